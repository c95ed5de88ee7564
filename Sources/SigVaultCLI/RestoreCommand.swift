import ArgumentParser
import Foundation
import SigVault
import SigVaultRepository

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Write documents back, byte-identical, with their evidence.",
        discussion: "sigvault restore <archive> [<document>...] --to <dir>, or sigvault restore --repo <dir> [--as-of <time>] <document>... --to <dir>.")

    @Argument(help: "The archive, then documents to restore, as listed (without data/); default: all. With --repo: documents only.")
    var arguments: [String] = []
    @Option(help: "The folder to restore into.") var to: String
    @Flag(help: "Overwrite existing files.") var force = false
    @Option(help: "The repository: find each document's archive in its catalog.") var repo: String?
    @Option(help: "With --repo: the versions as of this ISO 8601 time (default: the latest).") var asOf: String?

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            let repositoryPath = repo ?? (arguments.first.map { $0.hasSuffix(".svz") || FileManager.default.fileExists(atPath: $0) } == true
                                          ? nil : ProcessInfo.processInfo.environment[Repository.environmentVariable])
            var plans: [(archive: String, documents: [String])] = []
            // The repository also holds the content of reference members (FORMAT.md §4.3); an
            // archive restored on its own uses $SIGVAULT_REPOSITORY for them when it is set.
            var locator: Repository?
            if let repositoryPath {
                guard !arguments.isEmpty else { throw SigVaultError(.usage, "restore --repo: name the documents to restore") }
                let repository = try Repository(opening: repositoryPath)
                locator = repository
                let queries = RepositoryQueries(repository: repository)
                let time = try asOf.map { try CLI.parseTime($0) }
                let (found, missing) = try queries.locate(arguments, asOf: time)
                if let first = missing.first {
                    throw SigVaultError(.inputMissing, "\(first): the repository holds no version of it\(asOf.map { " as of \($0)" } ?? "")\(missing.count > 1 ? " (and \(missing.count - 1) more)" : "")")
                }
                plans = try found.keys.sorted().map { (try queries.archivePath($0), found[$0]!) }
            } else {
                guard asOf == nil else { throw SigVaultError(.usage, "--as-of needs --repo") }
                guard let archive = arguments.first else { throw SigVaultError(.usage, "restore: name the archive, or give --repo") }
                plans = [(archive, Array(arguments.dropFirst()))]
                if let environment = ProcessInfo.processInfo.environment[Repository.environmentVariable], !environment.isEmpty {
                    locator = try Repository(opening: environment)
                }
            }
            var exitCode: SigVault.ExitCode = .ok
            for plan in plans {
                var options = RestoreOptions(archive: plan.archive, target: to)
                options.documents = plan.documents
                options.force = force
                options.repository = locator
                let summary = try Restorer(options: options, logger: logger).run()
                summary.warnings.forEach(CLI.warn)
                summary.failures.forEach { CLI.errorLine($0) }
                summary.restored.forEach { CLI.line("restored \($0)") }
                exitCode = exitCode.combinedKeepingDamage(with: summary.exitCode)
            }
            if exitCode != .ok { Foundation.exit(exitCode.rawValue) }
        } catch {
            CLI.fail(error)
        }
    }
}
