# SigVault: `make demo` and `make test` work on a fresh Debian 12 machine with Swift installed.
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := libssl-dev libarchive-dev libzstd-dev pkg-config openssl zstd faketime python3 python3-venv default-jdk-headless libbcpkix-java time libsqlite3-dev chromium fonts-wqy-microhei
# Bouncy Castle (Debian's jars) for the RFC 4998 interoperability tests.
BC_CLASSPATH := /usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
AT := 2026-06-01T00:00:00Z
# pyhanko-certvalidator, the independent judge of chains and revocation in the tests (from PyPI).
PYHANKO_VERSION := 0.33.0
PYHANKO := .build/pyhanko/installed-$(PYHANKO_VERSION)

# `make install PREFIX=...` (and DESTDIR=... for packaging): the binary, the man page and the
# bash, zsh and fish completions, all made by swift-argument-parser.
PREFIX ?= /usr/local
CONFIGURATION ?= release
MANUAL := .build/plugins/GenerateManual/outputs/SigVaultCLI/sigvault.1

.PHONY: deps build release demo test bench fixtures clean install fuzz soak
SOAK_KILLS ?= 1000
FUZZ_COUNT ?= 1000

# Installs any missing system package with apt-get.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

demo: release
	@./scripts/demo.sh "$$($(SWIFT) build -c release --show-bin-path)/sigvault"

$(PYHANKO):
	rm -rf .build/pyhanko
	python3 -m venv .build/pyhanko
	.build/pyhanko/bin/pip install -q --disable-pip-version-check pyhanko-certvalidator==$(PYHANKO_VERSION)
	touch $@

test: deps $(PYHANKO)
	$(SWIFT) build --build-tests
	mkdir -p .build/interop && javac -cp $(BC_CLASSPATH) -d .build/interop Tests/Interop/ErsInterop.java
	$(SWIFT) test --skip-build
	./scripts/check-install.sh

install: deps
	$(SWIFT) build -c $(CONFIGURATION) --product sigvault
	$(SWIFT) package generate-manual --configuration $(CONFIGURATION)
	@bin="$$($(SWIFT) build -c $(CONFIGURATION) --show-bin-path)/sigvault"; root="$(DESTDIR)$(PREFIX)"; set -e; \
	install -D -m 0755 "$$bin" "$$root/bin/sigvault"; \
	install -D -m 0644 $(MANUAL) "$$root/share/man/man1/sigvault.1"; \
	mkdir -p "$$root/share/bash-completion/completions" "$$root/share/zsh/site-functions" "$$root/share/fish/vendor_completions.d"; \
	"$$bin" --generate-completion-script bash > "$$root/share/bash-completion/completions/sigvault"; \
	"$$bin" --generate-completion-script zsh > "$$root/share/zsh/site-functions/_sigvault"; \
	"$$bin" --generate-completion-script fish > "$$root/share/fish/vendor_completions.d/sigvault.fish"; \
	chmod 0644 "$$root"/share/*/completions/sigvault "$$root"/share/zsh/site-functions/_sigvault "$$root"/share/fish/vendor_completions.d/sigvault.fish; \
	echo "installed sigvault, its man page and completions under $$root"

# Mutated archives (flipped bytes, zeroed ranges, truncations, insertions) through verify, list and
# restore: no crash, no undocumented exit code, no mutation passed as intact, nothing outside the target.
fuzz: build
	rm -rf fuzz-work && mkdir -p fuzz-work
	@bin="$$($(SWIFT) build --show-bin-path)/sigvault"; set -e; \
	"$$bin" pack Fixtures/cases/demo Fixtures/cases/expired-timestamped Fixtures/cases/unsigned --trust Fixtures/pki/root.pem \
	  --certs Fixtures/pki/certs --crls Fixtures/pki/crl/current --ocsp Fixtures/pki/ocsp --at $(AT) -o fuzz-work/a.svz >/dev/null; \
	python3 scripts/mutate.py "$$bin" fuzz-work/a.svz $(FUZZ_COUNT)

# Backups killed with SIGKILL at seeded random moments (not part of make test): after each kill,
# check --read-data passes and every document restores as some completed night holds it.
soak: build
	python3 scripts/soak.py "$$($(SWIFT) build --show-bin-path)/sigvault" Fixtures $(SOAK_KILLS)

bench: release
	@./scripts/bench.sh "$$($(SWIFT) build -c release --show-bin-path)/sigvault"
	@./scripts/bench-repository.sh "$$($(SWIFT) build -c release --show-bin-path)/sigvault"

fixtures:
	./Fixtures/make-fixtures.sh
	./Fixtures/make-network-fixtures.sh
	./Fixtures/make-conformance-fixtures.sh

clean:
	rm -rf .build demo-work bench-work fuzz-work
