import ArgumentParser
import Foundation
import SigVault
import SigVaultRepository

/// `--repo <dir>`, else `SIGVAULT_REPOSITORY`.
struct RepositoryArgument: ParsableArguments {
    @Option(help: "The repository folder (default: $SIGVAULT_REPOSITORY).") var repo: String?

    func open() throws -> Repository {
        guard let path = repo ?? ProcessInfo.processInfo.environment[Repository.environmentVariable], !path.isEmpty else {
            throw SigVaultError(.noRepository, "no repository: give --repo <dir> or set \(Repository.environmentVariable)")
        }
        return try Repository(opening: path)
    }
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a repository in a new or empty folder.")

    @Argument(help: "The folder (created if missing; must be empty).") var directory: String
    @Option(help: "Default trust anchors for the repository's commands (file or folder; repeatable).") var trust: [String] = []
    @Option(help: "Default extra certificates.") var certs: [String] = []
    @Option(help: "Default CRLs.") var crls: [String] = []
    @Option(help: "Default OCSP responses.") var ocsp: [String] = []
    @Option(help: "Default time-stamp authorities for each night's archive time-stamp.") var tsa: [String] = []
    @Flag(help: "Fetch missing revocation data by default.") var fetchRevocation = false

    func run() throws {
        do {
            var defaults = RepositoryConfig.Defaults()
            defaults.trust = trust.isEmpty ? nil : trust
            defaults.certs = certs.isEmpty ? nil : certs
            defaults.crls = crls.isEmpty ? nil : crls
            defaults.ocsp = ocsp.isEmpty ? nil : ocsp
            defaults.tsa = tsa.isEmpty ? nil : try tsa.map { _ = try CLI.timeStampAuthority($0); return $0 }
            defaults.fetchRevocation = fetchRevocation ? true : nil
            let repository = try Repository.create(at: directory, defaults: defaults)
            CLI.line("created repository \(repository.config.id) in \(directory)")
        } catch {
            CLI.fail(error)
        }
    }
}

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup", abstract: "Archive what is new or changed since the last run into the repository.")

    @Argument(help: "Files and folders to back up.") var sources: [String]
    @OptionGroup var repository: RepositoryArgument
    @Option(help: "Trust anchors (default: the repository's, else the system store).") var trust: [String] = []
    @Option(help: "Extra certificates (added to the repository's defaults).") var certs: [String] = []
    @Option(help: "CRLs (added to the repository's defaults).") var crls: [String] = []
    @Option(help: "OCSP responses (added to the repository's defaults).") var ocsp: [String] = []
    @Option(help: "Time-stamp authorities (default: the repository's).") var tsa: [String] = []
    @OptionGroup var fetch: FetchArguments
    @Option(help: "Validate as of this ISO 8601 time instead of now.") var at: String?
    @Option(help: "Wait this long for another run's lock, <n>(s|m|h|d|y); default: exit 11 at once.") var lockWait: String?
    @Option(help: "Maximum age of revocation data: <n>(s|m|h|d|y).") var maxRevocationAge: String?
    @Flag(help: "Print a JSON summary on stdout.") var json = false
    @Flag(help: "Print events as JSON lines on stdout (started, walked, progress, stored, warning), the summary last.") var jsonLines = false
    @Flag(name: .shortAndLong, help: "Print only warnings and errors.") var quiet = false
    @Flag(name: .shortAndLong, help: "Log what the run does (as SIGVAULT_LOG=info).") var verbose = false

    func run() throws {
        let logger = CLI.makeLogger(level: verbose ? .info : .warning)
        do {
            if json && jsonLines { throw SigVaultError(.usage, "--json and --json-lines: choose one") }
            let repository = try repository.open()
            let defaults = repository.config.defaults
            var pack = PackOptions(inputs: sources, output: "")
            pack.trust = trust.isEmpty ? (defaults.trust ?? []).map(repository.resolve) : trust
            pack.certificates = (defaults.certs ?? []).map(repository.resolve) + certs
            pack.revocationLists = (defaults.crls ?? []).map(repository.resolve) + crls
            pack.ocspResponses = (defaults.ocsp ?? []).map(repository.resolve) + ocsp
            pack.timeStampAuthorities = try (tsa.isEmpty ? (defaults.tsa ?? []) : tsa).map(CLI.timeStampAuthority)
            pack.fetchRevocation = try fetch.settings() ?? (defaults.fetchRevocation == true ? FetchSettings() : nil)
            pack.at = try CLI.parseTime(at)
            pack.maximumRevocationAge = try CLI.parseMaximumAge(maxRevocationAge)
            var options = BackupOptions(sources: sources, pack: pack)
            options.lockWait = try lockWait.map { try CLI.parseDuration($0, option: "--lock-wait") }
            let progress = BackupProgress(mode: jsonLines ? .jsonLines : quiet || json ? .silent : isatty(2) == 1 ? .terminal : .log)
            if progress.mode != .silent { options.events = { progress.show($0) } }
            let summary = try Backup(repository: repository, options: options, logger: logger).run()
            progress.finish()
            if jsonLines {
                for warning in summary.warnings {
                    var event = BackupEvent("warning")
                    event.message = warning
                    progress.show(event)
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
                if summary.exitCode != 0 { Foundation.exit(summary.exitCode) }
                return
            }
            summary.warnings.forEach(CLI.warn)
            if quiet {
                if summary.exitCode != 0 { Foundation.exit(summary.exitCode) }
                return
            }
            if json {
                print(try JSONOutput.text(summary))
            } else {
                summary.documentLines.forEach(CLI.line)
                let counts = "\(summary.filesSeen) files: \(summary.new) new, \(summary.changed) changed, \(summary.unchanged) unchanged, \(summary.deleted) deleted"
                if let archive = summary.archive {
                    CLI.line("backed up \(summary.archived) files into \(archive) (\(counts); \(summary.bytesRead) bytes read, \(summary.bytesStored) stored\(summary.references > 0 ? ", \(summary.references) references to \(summary.referencedBytes) bytes stored before" : ""))")
                    if summary.retriedTryLater > 0 {
                        CLI.line("\(summary.resolvedTryLater) of \(summary.retriedTryLater) document(s) waiting for revocation data (TRY_LATER) moved to a verdict")
                    }
                } else {
                    CLI.line("nothing changed, no archive written (\(counts))")
                }
            }
            if summary.exitCode != 0 { Foundation.exit(summary.exitCode) }
        } catch {
            CLI.fail(error)
        }
    }
}

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "Show documents' history across nights.")

    @Argument(help: "A path as list prints it (default: every document).") var path: String?
    @OptionGroup var repository: RepositoryArgument
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        do {
            let entries = try RepositoryQueries(repository: repository.open()).history(of: path)
            if entries.isEmpty, let path { throw SigVaultError(.inputMissing, "\(path): the repository holds no version of it") }
            if json {
                print(try JSONOutput.text(["schemaVersion": AnyEncodable(1), "entries": AnyEncodable(entries)]))
                return
            }
            for entry in entries {
                if entry.event == "deleted" {
                    CLI.line("\(entry.night)  DELETED  \(entry.path)")
                } else {
                    let verdict = entry.role == "document" ? [entry.indication, entry.subIndication].compactMap { $0 }.joined(separator: "/") : entry.role ?? ""
                    let signers = (entry.signers ?? []).isEmpty ? "" : "  signed by " + (entry.signers ?? []).joined(separator: "; ")
                    CLI.line("\(entry.night)  \(verdict.isEmpty ? "UNSIGNED" : verdict)  \(entry.path)  sha256 \(entry.sha256 ?? "")  in \(entry.archive ?? "")\(signers)")
                }
            }
        } catch {
            CLI.fail(error)
        }
    }
}

/// Encodes any Encodable (for a JSON object of mixed values).
struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Check the repository: catalog, archives, and with --read-data every byte.")

    @OptionGroup var repository: RepositoryArgument
    @Flag(help: "Read every byte of every archive (verify --integrity-only).") var readData = false
    @Option(help: "Read every byte of this percentage of the archives (a different choice each day).") var readDataSubset: Double?
    @Option(help: "With --read-data: judge the signatures as of this ISO 8601 time instead of now.") var at: String?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            if let readDataSubset, !(readDataSubset > 0 && readDataSubset <= 100) {
                throw SigVaultError(.usage, "--read-data-subset \(readDataSubset): a percentage above 0, at most 100")
            }
            let summary = try RepositoryQueries(repository: repository.open())
                .check(readData: readData || readDataSubset != nil, subsetPercent: readDataSubset, at: try CLI.parseTime(at), logger: logger)
            if json {
                print(try JSONOutput.text(summary))
            } else {
                summary.notes.forEach { CLI.line("NOTE  \($0)") }
                summary.problems.forEach { CLI.line("PROBLEM  \($0)") }
                CLI.line("checked \(summary.archives) archives\(summary.dataChecked > 0 ? ", \(summary.dataChecked) of them byte for byte" : ""): \(summary.problems.isEmpty ? "OK" : "\(summary.problems.count) problem(s)")")
            }
            if summary.exitCode != 0 { Foundation.exit(summary.exitCode) }
        } catch {
            CLI.fail(error)
        }
    }
}

struct RepoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "repo", abstract: "Repository maintenance.", subcommands: [RebuildCatalogCommand.self])
}

struct RebuildCatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rebuild-catalog", abstract: "Make the catalog again from the archives.")

    @OptionGroup var repository: RepositoryArgument

    func run() throws {
        do {
            let (indexed, warnings) = try RepositoryQueries(repository: repository.open()).rebuildCatalog()
            warnings.forEach(CLI.warn)
            CLI.line("catalog rebuilt from \(indexed.count) archive(s)")
        } catch {
            CLI.fail(error)
        }
    }
}

/// How a backup shows its progress: JSON lines on stdout, a line rewritten on a terminal's stderr
/// (files and bytes done, rate, time left), plain lines every 10 seconds in a log, or nothing.
final class BackupProgress: @unchecked Sendable {
    enum Mode { case jsonLines, terminal, log, silent }
    let mode: Mode
    private let lock = NSLock()
    private var last = Date.distantPast
    private var started: Date?
    private var shown = false
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(mode: Mode) { self.mode = mode }

    func show(_ event: BackupEvent) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        switch mode {
        case .silent:
            return
        case .jsonLines:
            // Progress at most once a second; every other event as it comes.
            if event.event == "progress" && event.filesDone != event.filesTotal {
                guard now.timeIntervalSince(last) >= 1 else { return }
                last = now
            }
            if let data = try? encoder.encode(event) { print(String(decoding: data, as: UTF8.self)) }
        case .terminal, .log:
            guard event.event == "progress", let done = event.filesDone, let total = event.filesTotal,
                  let bytes = event.bytesDone, let totalBytes = event.bytesTotal else { return }
            if started == nil { started = now }
            let interval: TimeInterval = mode == .terminal ? 0.1 : 10
            guard now.timeIntervalSince(last) >= interval || done == total else { return }
            last = now
            let seconds = max(0.001, now.timeIntervalSince(started ?? now))
            let rate = Double(bytes) / seconds
            let left = rate > 0 ? Double(totalBytes - min(bytes, totalBytes)) / rate : 0
            let text = "archiving: \(done)/\(total) files, \(Self.size(bytes)) of \(Self.size(totalBytes)), \(Self.size(UInt64(rate)))/s, about \(Int(left.rounded(.up))) s left"
            if mode == .terminal {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + TextSafety.line(text)).utf8))
                shown = true
            } else {
                FileHandle.standardError.write(Data(("sigvault: " + text + "\n").utf8))
            }
        }
    }

    /// Clears the terminal's progress line.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if mode == .terminal && shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    static func size(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}

