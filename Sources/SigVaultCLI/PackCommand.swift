import ArgumentParser
import Foundation
import SigVault

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pack", abstract: "Archive files with their signatures and evidence.")

    @Argument(help: "Files and folders to archive.") var paths: [String]
    @Option(name: .shortAndLong, help: "The archive to create (never overwritten).") var output: String
    @Option(help: "Extra certificates (file or folder, PEM or DER, bundles allowed).") var certs: [String] = []
    @Option(help: "CRLs (file or folder, PEM or DER).") var crls: [String] = []
    @Option(help: "OCSP responses (file or folder, DER).") var ocsp: [String] = []
    @Option(help: "Trust anchors (file or folder); default: the system store.") var trust: [String] = []
    @Option(help: "Validate as of this ISO 8601 time instead of now.") var at: String?
    @Option(help: "An RFC 3161 time-stamp authority URL for the archive time-stamp (repeatable: tried in order).") var tsa: [String] = []
    @OptionGroup var fetch: FetchArguments
    @Flag(help: "Refuse to write the archive (exit 4) unless every chain has revocation data fresh at its best signature time.")
    var requireComplete = false
    @Option(help: "With --require-complete: demand revocation data issued at least this long after the best signature time, <n>(s|m|h|d|y) (the CAdES grace period).")
    var grace: String?
    @Option(help: "Maximum age of revocation data at the time it must speak for: <n>(s|m|h|d|y); default: each item's nextUpdate - thisUpdate.")
    var maxRevocationAge: String?
    @Flag(help: "Print a JSON summary on stdout.") var json = false

    func run() throws {
        let logger = CLI.makeLogger()
        do {
            guard output != "-" else {
                throw SigVaultError(.usage, "-o -: an archive is written to a file, never to standard output",
                                    hint: "name a file; its index and trailer are written last and it is renamed into place whole")
            }
            var options = PackOptions(inputs: paths, output: output)
            options.certificates = certs
            options.revocationLists = crls
            options.ocspResponses = ocsp
            options.trust = trust
            options.at = try CLI.parseTime(at)
            options.timeStampAuthorities = try tsa.map(CLI.timeStampAuthority)
            options.fetchRevocation = try fetch.settings()
            options.requireComplete = requireComplete
            if let grace {
                guard requireComplete else { throw SigVaultError(.usage, "--grace needs --require-complete") }
                options.grace = try CLI.parseDuration(grace, option: "--grace")
            }
            options.maximumRevocationAge = try CLI.parseMaximumAge(maxRevocationAge)
            let summary = try Packer(options: options, logger: logger).run()
            summary.warnings.forEach(CLI.warn)
            if json {
                print(summary.jsonText(archive: output))
            } else {
                summary.documentLines.forEach(CLI.line)
                CLI.line("packed \(summary.members) members (\(summary.documents) documents: \(summary.signedDocuments) signed, \(summary.notPassed) of them not passing; \(summary.documents - summary.signedDocuments) unsigned) into \(output)")
                CLI.line("fingerprint \(summary.fingerprint)")
                if let line = summary.archiveTimeStampLine { CLI.line(line) }
            }
            if summary.exitCode != .ok { Foundation.exit(summary.exitCode.rawValue) }
        } catch {
            CLI.fail(error)
        }
    }
}
