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
    @Option(help: "Extra certificates for the TSA chains (file or folder, PEM or DER).") var certs: [String] = []
    @Option(help: "CRLs for the TSA chains (file or folder, PEM or DER).") var crls: [String] = []
    @Option(help: "OCSP responses for the TSA chains (file or folder, DER).") var ocsp: [String] = []
    @OptionGroup var fetch: FetchArguments
    @Option(help: "Maximum age of revocation data at the time it must speak for: <n>(s|m|h|d|y); default: each item's nextUpdate - thisUpdate.")
    var maxRevocationAge: String?
    @Option(help: "Verify as of this ISO 8601 time instead of now.") var at: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            var options = RecordVerifyOptions(record: record)
            options.data = data
            options.digests = digest
            options.trust = trust
            options.certificates = certs
            options.at = try CLI.parseTime(at)
            options.revocationLists = crls
            options.ocspResponses = ocsp
            options.fetchRevocation = try fetch.settings()
            options.maximumRevocationAge = try CLI.parseMaximumAge(maxRevocationAge)
            let report = try RecordVerifier(options: options, logger: logger).run()
            print(json ? report.jsonText : report.text)
            if report.exitCode != 0 { Foundation.exit(report.exitCode) }
        } catch {
            CLI.fail(error)
        }
    }
}
