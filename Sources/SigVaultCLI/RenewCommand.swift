import ArgumentParser
import Logging
import Foundation
import OpenSSLBridge
import SigVault
import SigVaultRepository

struct RenewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew", abstract: "Renew an archive's archive time-stamp before its TSA certificate or hash algorithm ages.")

    @Argument(help: "The archive (version 2, with an archive time-stamp); with --repo: none.") var archive: String?
    @Option(help: "The repository: renew every archive of it that is due, with one request (default: $SIGVAULT_REPOSITORY without an archive).")
    var repo: String?
    @Option(help: "With --repo: wait this long for another run's lock, <n>(s|m|h|d|y); default: exit 11 at once.") var lockWait: String?
    @Flag(help: "With --repo: print a JSON summary.") var json = false
    @Option(help: "An RFC 3161 time-stamp authority URL (repeatable: tried in order); with --repo default: the repository's.") var tsa: [String] = []
    @Option(help: "Trust anchors (file or folder); default: the system store (with --repo: the repository's).") var trust: [String] = []
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
            let repositoryPath = repo ?? (archive == nil ? ProcessInfo.processInfo.environment[Repository.environmentVariable] : nil)
            if let repositoryPath, !repositoryPath.isEmpty {
                guard archive == nil else { throw SigVaultError(.usage, "renew --repo renews the repository's archives: name no archive") }
                try runRepository(Repository(opening: repositoryPath), logger: logger)
                return
            }
            guard lockWait == nil, !json else { throw SigVaultError(.usage, "--lock-wait and --json go with --repo") }
            guard let archive else { throw SigVaultError(.usage, "renew: name the archive, or give --repo") }
            // A repository's archives are write-once objects: renewing one rewrites it.
            let folder = ((archive as NSString).deletingLastPathComponent as NSString)
            let root = folder.deletingLastPathComponent
            if folder.lastPathComponent == "archives", FileManager.default.fileExists(atPath: (root.isEmpty ? "." : root) + "/" + Repository.configName) {
                throw SigVaultError(.usage, "\(archive): an archive of a repository is never rewritten",
                                    hint: "sigvault renew --repo \(root.isEmpty ? "." : root) stores its renewed evidence beside it")
            }
            var options = RenewOptions(archive: archive)
            options.timeStampAuthorities = try tsa.map(CLI.timeStampAuthority)
            options.trust = trust
            options.revocationLists = crls
            options.ocspResponses = ocsp
            options.fetchRevocation = try fetch.settings()
            try setLimits(&options)
            let summary = try Renewer(options: options, logger: logger).run()
            summary.warnings.forEach(CLI.warn)
            summary.lines(archive: archive).forEach(CLI.line)
            if summary.exitCode != .ok { Foundation.exit(summary.exitCode.rawValue) }
        } catch {
            CLI.fail(error)
        }
    }

    /// `--max-revocation-age`, `--before` and `--hash`, for one archive or a repository.
    func setLimits(_ options: inout RenewOptions) throws {
        options.maximumRevocationAge = try CLI.parseMaximumAge(maxRevocationAge)
        if let before { options.before = try CLI.parseDuration(before, option: "--before") }
        if let hash {
            guard ["sha256", "sha384", "sha512"].contains(hash), let algorithm = HashAlgorithm(rawValue: hash) else {
                throw SigVaultError(.usage, "--hash \(hash): one of sha256, sha384, sha512")
            }
            options.hash = algorithm
        }
    }

    /// `renew --repo`: the repository's defaults for what the command line does not give.
    func runRepository(_ repository: Repository, logger: Logger) throws {
        let defaults = repository.config.defaults
        var options = RenewOptions(archive: "")
        options.timeStampAuthorities = try (tsa.isEmpty ? (defaults.tsa ?? []) : tsa).map(CLI.timeStampAuthority)
        options.trust = trust.isEmpty ? (defaults.trust ?? []).map(repository.resolve) : trust
        options.revocationLists = (defaults.crls ?? []).map(repository.resolve) + crls
        options.ocspResponses = (defaults.ocsp ?? []).map(repository.resolve) + ocsp
        options.fetchRevocation = try fetch.settings() ?? (defaults.fetchRevocation == true ? FetchSettings() : nil)
        try setLimits(&options)
        let wait = try lockWait.map { try CLI.parseDuration($0, option: "--lock-wait") }
        let summary = try RepositoryRenewal(repository: repository, options: options, lockWait: wait, logger: logger).run()
        summary.warnings.forEach(CLI.warn)
        if json {
            print(try JSONOutput.text(summary))
        } else {
            for renewed in summary.renewed {
                CLI.line("renewed \(renewed.archive) (\(renewed.hashTreeRenewal ? "hash-tree renewal" : "time-stamp renewal")): archive time-stamp \(renewed.genTime), evidence \(renewed.object)"
                         + (renewed.renewBefore.map { "; renew before \($0)" } ?? ""))
            }
            for failure in summary.failed { CLI.errorLine(failure) }
            CLI.line("\(summary.renewed.count) of \(summary.archives) archives renewed with \(summary.requests) time-stamp request(s); \(summary.notDue.count) not due")
        }
        if summary.exitCode != 0 { Foundation.exit(summary.exitCode) }
    }
}
