import ArgumentParser
import Foundation
import SigVault

struct ErsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ers", abstract: "RFC 4998 Evidence Records made by anyone.", subcommands: [ErsVerifyCommand.self])
}

struct ErsVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Verify an Evidence Record against the data it must cover.")

    @Argument(help: "The Evidence Record (DER).") var record: String
    @Option(help: "A data object the record covers (repeatable).") var data: [String] = []
    @Option(help: "A data object given by its digest, <algorithm>:<hex> (repeatable).") var digest: [String] = []
    @Option(help: "Trust anchors (file or folder); default: the system store.") var trust: [String] = []
    @OptionGroup var material: OutsideMaterialArguments
    @Option(help: "Verify as of this ISO 8601 time instead of now.") var at: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            var options = RecordVerifyOptions(record: record)
            options.data = data
            options.digests = digest
            options.trust = trust
            options.certificates = material.certs
            options.at = try CLI.parseTime(at)
            options.revocationLists = material.crls
            options.ocspResponses = material.ocsp
            options.fetchRevocation = try material.fetch.settings()
            options.maximumRevocationAge = try CLI.parseMaximumAge(material.maxRevocationAge)
            let report = try RecordVerifier(options: options, logger: logger).run()
            if json { print(report.jsonText) } else { report.textLines.forEach(CLI.line) }
            if report.exitCode != 0 { Foundation.exit(report.exitCode) }
        } catch {
            CLI.fail(error)
        }
    }
}
