import ArgumentParser
import Foundation
import Logging
import SigVault

@main
struct SigVaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigvault",
        abstract: "Archive signed documents with the evidence that keeps them provable, verify and restore them.",
        version: SigVaultVersion.withLibraries,
        subcommands: [PackCommand.self, VerifyCommand.self, RestoreCommand.self, ListCommand.self, RenewCommand.self, ExportCommand.self, ErsCommand.self,
                      InitCommand.self, BackupCommand.self, LogCommand.self, CheckCommand.self, RepoCommand.self, ExpiryCommand.self])

    static func main() {
        // Before any work: an interruption removes every temporary file the run made.
        Interruptions.install()
        main(nil)
    }
}

/// Shared plumbing: error printing and exit codes (docs/CLI.md).
enum CLI {
    /// The logger; `SIGVAULT_LOG` sets its level, else `level` (`--verbose`: info).
    static func makeLogger(level: Logger.Level = .warning) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["SIGVAULT_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? level
            return handler
        }
        return Logger(label: "sigvault")
    }

    /// Prints the error as `sigvault: error: <message> [<code>]` (the code is stable, docs/CLI.md)
    /// and exits with the code's exit code; an error that is not ours is an internal one.
    static func fail(_ error: Error) -> Never {
        let error = error as? SigVaultError ?? SigVaultError(.internalInvariant, "\(error)")
        error.warnings.forEach(warn)
        TemporaryFiles.shared.takeStaleRemoved().forEach(warn)
        standardError("sigvault: error: \(error.message) [\(error.code.rawValue)]")
        if let hint = error.hint { standardError("sigvault: hint: \(hint)") }
        exit(error.exitCode.rawValue)
    }

    static func warn(_ message: String) { standardError("sigvault: warning: \(message)") }

    /// A file that was not restored or checked, while the command went on.
    static func errorLine(_ message: String) { standardError("sigvault: error: \(message)") }

    /// One line of text output, made safe (TextSafety).
    static func line(_ text: String) { print(TextSafety.line(text)) }

    private static func standardError(_ line: String) {
        FileHandle.standardError.write(Data((TextSafety.line(line) + "\n").utf8))
    }

    /// `<n>(s|m|h|d|y)`: seconds, minutes, hours, days, years of 365 days.
    static func parseDuration(_ text: String, option: String) throws -> TimeInterval {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "y": 365 * 86_400]
        let number = text.dropLast()
        guard let unit = text.last.flatMap({ units[$0] }), !number.isEmpty, number.allSatisfy(\.isASCIIDigit), number.count <= 12,
              let count = Int(number) else {
            throw SigVaultError(.usage, "\(option) \(text): not a duration", hint: "for example 90d, 12h or 2y")
        }
        return TimeInterval(count) * unit
    }

    /// `--max-revocation-age`: a duration above zero, or nil when not given.
    static func parseMaximumAge(_ text: String?) throws -> TimeInterval? {
        guard let text else { return nil }
        let age = try parseDuration(text, option: "--max-revocation-age")
        guard age > 0 else { throw SigVaultError(.usage, "--max-revocation-age \(text): must be above zero", hint: "for example 7d or 12h") }
        return age
    }

    /// A time-stamp authority from an `http://` or `https://` URL.
    static func timeStampAuthority(_ text: String) throws -> HTTPTimeStampAuthority {
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw SigVaultError(.usage, "--tsa \(text): not an http or https URL")
        }
        return HTTPTimeStampAuthority(url: url)
    }

    static func parseTime(_ text: String?) throws -> Date {
        guard let text else { return Date() }
        guard let date = TimeArgument.parse(text) else {
            throw SigVaultError(.usage, "--at \(text): not a full ISO 8601 time (a valid date, a time with seconds, and Z or an offset)",
                                hint: "for example 2035-01-01T00:00:00Z or 2035-01-01T02:00:00+02:00")
        }
        return date
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Validation material from outside what is verified (`verify`, `ers verify`): used and reported as
/// such, never written anywhere, with the fetch and freshness settings.
struct OutsideMaterialArguments: ParsableArguments {
    @Option(help: "Certificates from outside (file or folder, PEM or DER); used, never stored.") var certs: [String] = []
    @Option(help: "CRLs from outside (file or folder, PEM or DER); used, never stored.") var crls: [String] = []
    @Option(help: "OCSP responses from outside (file or folder, DER); used, never stored.") var ocsp: [String] = []
    @OptionGroup var fetch: FetchArguments
    @Option(help: "Maximum age of revocation data at the time it must speak for: <n>(s|m|h|d|y); default: each item's nextUpdate - thisUpdate.")
    var maxRevocationAge: String?

    var given: Bool { !certs.isEmpty || !crls.isEmpty || !ocsp.isEmpty || fetch.fetchRevocation || maxRevocationAge != nil }

    /// Verify's options for `archive` with this material, `--trust` and `--at` (verify, export).
    func verifyOptions(archive: String, trust: [String], at: String?) throws -> VerifyOptions {
        var options = VerifyOptions(archive: archive)
        options.trust = trust
        options.at = try CLI.parseTime(at)
        options.certificates = certs
        options.revocationLists = crls
        options.ocspResponses = ocsp
        options.fetchRevocation = try fetch.settings()
        options.maximumRevocationAge = try CLI.parseMaximumAge(maxRevocationAge)
        return options
    }
}

/// `--fetch-revocation` and its limits, shared by pack, renew, verify and ers verify.
struct FetchArguments: ParsableArguments {
    @Flag(help: "Fetch missing revocation data: OCSP from each certificate's AIA responder, else the CRL from its distribution point.")
    var fetchRevocation = false
    @Option(help: "Whole seconds one OCSP or CRL request may take (default 10; with --fetch-revocation).") var fetchTimeout: Int?
    @Option(help: "Attempts per URL after a time-out, a refused connection or an HTTP 5xx (default 2; with --fetch-revocation).")
    var fetchAttempts: Int?

    /// The settings, or nil without --fetch-revocation.
    func settings() throws -> FetchSettings? {
        guard fetchRevocation else {
            if fetchTimeout != nil || fetchAttempts != nil {
                throw SigVaultError(.usage, "--fetch-timeout and --fetch-attempts need --fetch-revocation")
            }
            return nil
        }
        var settings = FetchSettings()
        if let fetchTimeout {
            guard (1...600).contains(fetchTimeout) else { throw SigVaultError(.usage, "--fetch-timeout \(fetchTimeout): whole seconds from 1 to 600") }
            settings.timeout = TimeInterval(fetchTimeout)
        }
        if let fetchAttempts {
            guard (1...10).contains(fetchAttempts) else { throw SigVaultError(.usage, "--fetch-attempts \(fetchAttempts): between 1 and 10") }
            settings.attempts = fetchAttempts
        }
        return settings
    }
}
