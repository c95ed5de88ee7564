import ArgumentParser
import Foundation
import SigVault

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Write documents back, byte-identical, with their evidence.")

    @Argument(help: "The archive.") var archive: String
    @Argument(help: "Documents to restore, as listed (without data/); default: all.") var documents: [String] = []
    @Option(help: "The folder to restore into.") var to: String
    @Flag(help: "Overwrite existing files.") var force = false

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            var options = RestoreOptions(archive: archive, target: to)
            options.documents = documents
            options.force = force
            let summary = try Restorer(options: options, logger: logger).run()
            summary.warnings.forEach(CLI.warn)
            summary.failures.forEach { CLI.errorLine($0) }
            summary.restored.forEach { CLI.line("restored \($0)") }
            if summary.exitCode != .ok { Foundation.exit(summary.exitCode.rawValue) }
        } catch {
            CLI.fail(error)
        }
    }
}
