import ArgumentParser
import Foundation
import SigVault
import SigVaultRepository

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write one document's self-contained evidence bundle: files, proof material, report, VERIFY.sh.",
        discussion: "sigvault export <archive> <document> --to <dir>, or sigvault export --repo <dir> [--as-of <time>] <document> --to <dir>. docs/LEGAL-EXPORT.md says what the folder holds.")

    @Argument(help: "The archive, then the document as listed (without data/); with --repo: the document only.")
    var arguments: [String] = []
    @Option(help: "The folder to create (it must not exist, or be empty).") var to: String
    @Option(help: "Trust anchors (file or folder); default: the system store.") var trust: [String] = []
    @Option(help: "Validate as of this ISO 8601 time instead of now.") var at: String?
    @Option(help: "The time zone the reports show beside UTC (an IANA name such as Europe/Berlin; default UTC).") var tz: String?
    @OptionGroup var material: OutsideMaterialArguments
    @Option(help: "The repository: find the document's archive in its catalog.") var repo: String?
    @Option(help: "With --repo: the version as of this ISO 8601 time (default: the latest).") var asOf: String?

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            let archive: String
            let document: String
            var locator: Repository?
            if let repo {
                guard arguments.count == 1 else { throw SigVaultError(.usage, "export --repo: name exactly one document") }
                let repository = try Repository(opening: repo)
                locator = repository
                let queries = RepositoryQueries(repository: repository)
                let time = try asOf.map { try CLI.parseTime($0) }
                let (found, _) = try queries.locate(arguments, asOf: time)
                guard let (key, names) = found.first, let name = names.first else {
                    throw SigVaultError(.inputMissing, "\(arguments[0]): the repository holds no version of it\(asOf.map { " as of \($0)" } ?? "")")
                }
                archive = try queries.archivePath(key)
                document = name
            } else {
                guard asOf == nil else { throw SigVaultError(.usage, "--as-of needs --repo") }
                guard arguments.count == 2 else { throw SigVaultError(.usage, "export: name the archive and one document (or give --repo)") }
                archive = arguments[0]
                document = arguments[1]
                if let environment = ProcessInfo.processInfo.environment[Repository.environmentVariable], !environment.isEmpty {
                    locator = try Repository(opening: environment)
                }
            }
            var verify = try material.verifyOptions(archive: archive, trust: trust, at: at)
            verify.repository = locator
            var options = ExportOptions(verify: verify, document: document, target: to)
            if let tz {
                guard let zone = TimeZone(identifier: tz) else {
                    throw SigVaultError(.usage, "--tz \(tz): not a time zone name", hint: "an IANA name such as UTC, Europe/Berlin or Asia/Shanghai")
                }
                options.timeZone = zone
            }
            let summary = try Exporter(options: options, logger: logger).run()
            summary.warnings.forEach(CLI.warn)
            CLI.line("exported \(document) to \(summary.target): \(summary.files) files, \(summary.subIndication.map { "\(summary.indication)/\($0)" } ?? summary.indication)")
            CLI.line("check it without SigVault: cd \(summary.target) && sh VERIFY.sh <your trust anchor file>")
            if summary.exitCode != 0 { Foundation.exit(summary.exitCode) }
        } catch {
            CLI.fail(error)
        }
    }
}
