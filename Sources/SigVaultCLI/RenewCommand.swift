import ArgumentParser
import Foundation
import OpenSSLBridge
import SigVault

struct RenewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew", abstract: "Renew an archive's archive time-stamp before its TSA certificate or hash algorithm ages.")

    @Argument(help: "The archive (version 2, with an archive time-stamp).") var archive: String
    @Option(help: "An RFC 3161 time-stamp authority URL (repeatable: tried in order).") var tsa: [String] = []
    @Option(help: "Trust anchors (file or folder); default: the system store.") var trust: [String] = []
    @Option(help: "CRLs for the archive time-stamps' TSA chains (file or folder).") var crls: [String] = []
    @Option(help: "OCSP responses for the archive time-stamps' TSA chains (file or folder, DER).") var ocsp: [String] = []
    @Option(help: "Renew only if protection ends within this window: <n>(s|m|h|d|y), e.g. 90d.") var before: String?
    @OptionGroup var fetch: FetchArguments
    @Option(help: "Maximum age of revocation data at the time it must speak for: <n>(s|m|h|d|y); default: each item's nextUpdate - thisUpdate.")
    var maxRevocationAge: String?
    @Option(help: "Hash-tree renewal with this algorithm: sha256, sha384 or sha512.") var hash: String?

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            var options = RenewOptions(archive: archive)
            options.timeStampAuthorities = try tsa.map(CLI.timeStampAuthority)
            options.trust = trust
            options.revocationLists = crls
            options.ocspResponses = ocsp
            options.fetchRevocation = try fetch.settings()
            options.maximumRevocationAge = try CLI.parseMaximumAge(maxRevocationAge)
            if let before { options.before = try CLI.parseDuration(before, option: "--before") }
            if let hash {
                guard ["sha256", "sha384", "sha512"].contains(hash), let algorithm = HashAlgorithm(rawValue: hash) else {
                    throw SigVaultError(.usage, "--hash \(hash): one of sha256, sha384, sha512")
                }
                options.hash = algorithm
            }
            let summary = try Renewer(options: options, logger: logger).run()
            summary.warnings.forEach(CLI.warn)
            summary.lines(archive: archive).forEach(CLI.line)
            if summary.exitCode != .ok { Foundation.exit(summary.exitCode.rawValue) }
        } catch {
            CLI.fail(error)
        }
    }
}
