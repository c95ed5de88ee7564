import ArgumentParser
import Foundation
import SigVault
import SigVaultRepository

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check an archive's integrity and every signature in it.")

    @Argument(help: "The archive.") var archive: String
    @Option(help: "Trust anchors (file or folder); default: the system store.") var trust: [String] = []
    @Option(help: "Verify as of this ISO 8601 time instead of now.") var at: String?
    @OptionGroup var material: OutsideMaterialArguments
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(help: "Check the bytes only (members, manifest, index, trailer, evidence section): no trust anchors needed, exit 0 or 1.")
    var integrityOnly = false
    @Option(help: "The repository holding the content of the archive's reference members (default: $SIGVAULT_REPOSITORY).") var repo: String?
    @Option(help: "Also write the evidence report for every document to this file; .html, .txt or .json (the form follows from the name; repeatable).")
    var report: [String] = []
    @Option(help: "With --report: the time zone the report shows beside UTC (an IANA name such as Europe/Berlin; default UTC).") var tz: String?

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            var options = try material.verifyOptions(archive: archive, trust: trust, at: at)
            options.integrityOnly = integrityOnly
            if let path = repo ?? ProcessInfo.processInfo.environment[Repository.environmentVariable], !path.isEmpty {
                options.repository = try Repository(opening: path)
            }
            if integrityOnly && (!trust.isEmpty || at != nil || material.given) {
                throw SigVaultError(.usage, "--integrity-only checks the bytes only; --trust, --at and outside material do not apply")
            }
            if integrityOnly && !self.report.isEmpty {
                throw SigVaultError(.usage, "--report needs the signatures evaluated; --integrity-only does not evaluate them")
            }
            guard tz == nil || !self.report.isEmpty else { throw SigVaultError(.usage, "--tz applies to --report only") }
            var zone = TimeZone(identifier: "UTC")!
            if let tz {
                guard let given = TimeZone(identifier: tz) else {
                    throw SigVaultError(.usage, "--tz \(tz): not a time zone name", hint: "an IANA name such as UTC, Europe/Berlin or Asia/Shanghai")
                }
                zone = given
            }
            let report = self.report.isEmpty
                ? try Verifier(options: options, logger: logger).run()
                : try ArchiveReport.verify(options, reports: self.report, timeZone: zone, logger: logger)
            report.warnings.forEach(CLI.warn)
            if json { report.writeJSON { print($0, terminator: "") } } else { report.writeText { print($0, terminator: "") } }
            if report.exitCode != 0 { Foundation.exit(report.exitCode) }
        } catch {
            CLI.fail(error)
        }
    }
}
