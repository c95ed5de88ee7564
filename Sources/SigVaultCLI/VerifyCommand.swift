import ArgumentParser
import Foundation
import SigVault

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check an archive's integrity and every signature in it.")

    @Argument(help: "The archive.") var archive: String
    @Option(help: "Trust anchors (file or folder); default: the system store.") var trust: [String] = []
    @Option(help: "Verify as of this ISO 8601 time instead of now.") var at: String?
    @Option(help: "Certificates from outside the archive (file or folder, PEM or DER); never written into it.") var certs: [String] = []
    @Option(help: "CRLs from outside the archive (file or folder, PEM or DER); never written into it.") var crls: [String] = []
    @Option(help: "OCSP responses from outside the archive (file or folder, DER); never written into it.") var ocsp: [String] = []
    @OptionGroup var fetch: FetchArguments
    @Option(help: "Maximum age of revocation data at the time it must speak for: <n>(s|m|h|d|y); default: each item's nextUpdate - thisUpdate.")
    var maxRevocationAge: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            var options = VerifyOptions(archive: archive)
            options.trust = trust
            options.at = try CLI.parseTime(at)
            options.certificates = certs
            options.revocationLists = crls
            options.ocspResponses = ocsp
            options.fetchRevocation = try fetch.settings()
            options.maximumRevocationAge = try CLI.parseMaximumAge(maxRevocationAge)
            let report = try Verifier(options: options, logger: logger).run()
            report.warnings.forEach(CLI.warn)
            if json { report.writeJSON { print($0, terminator: "") } } else { report.writeText { print($0, terminator: "") } }
            if report.exitCode != 0 { Foundation.exit(report.exitCode) }
        } catch {
            CLI.fail(error)
        }
    }
}
