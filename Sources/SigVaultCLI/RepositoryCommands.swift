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

    func run() throws {
        let logger = CLI.makeLogger()
        do {
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
            let summary = try Backup(repository: repository, options: options, logger: logger).run()
            summary.warnings.forEach(CLI.warn)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else {
                summary.documentLines.forEach(CLI.line)
                let counts = "\(summary.filesSeen) files: \(summary.new) new, \(summary.changed) changed, \(summary.unchanged) unchanged, \(summary.deleted) deleted"
                if let archive = summary.archive {
                    CLI.line("backed up \(summary.archived) files into \(archive) (\(counts); \(summary.bytesRead) bytes read, \(summary.bytesStored) stored)")
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
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(["schemaVersion": AnyEncodable(1), "entries": AnyEncodable(entries)]), as: UTF8.self))
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
            if entries.isEmpty, let path { throw SigVaultError(.inputMissing, "\(path): the repository holds no version of it") }
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
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
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
            let indexed = try RepositoryQueries(repository: repository.open()).rebuildCatalog()
            CLI.line("catalog rebuilt from \(indexed.count) archive(s)")
        } catch {
            CLI.fail(error)
        }
    }
}
