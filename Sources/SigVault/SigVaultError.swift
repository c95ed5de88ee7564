import SigVaultFormat
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An error that stops a command: "could not run", never a finding about the archive. Its code is
/// stable (scripts and tests compare it, not the message) and says what failed; one switch maps
/// codes to exit codes (docs/CLI.md).
public struct SigVaultError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable, CaseIterable {
        /// The command line is wrong (an option, a value, a combination).
        case usage = "usage"
        /// A file or folder the user named does not exist or cannot be opened.
        case inputMissing = "input-missing"
        /// An input other than the archive (certificate, CRL, record, signature file) does not parse.
        case inputInvalid = "input-invalid"
        /// The archive is not one SigVault makes, or holds something it never writes.
        case archiveInvalid = "archive-invalid"
        /// A member name or link would land outside the target or under a link.
        case unsafeName = "unsafe-name"
        /// Reading the archive failed (an I/O error, the file changed under us).
        case archiveRead = "archive-read"
        /// Reading a file to archive failed.
        case sourceUnreadable = "source-unreadable"
        /// The output or a restored file already exists.
        case outputExists = "output-exists"
        /// The output, the restore target or one of its files cannot be created or put in place.
        case outputCreate = "output-create"
        /// Writing or syncing the output or a restored file failed (a full disk, an I/O error).
        case outputWrite = "output-write"
        /// The scratch folder (TMPDIR) cannot be used.
        case scratch = "scratch"
        /// The archive's bytes do not match what it records.
        case integrity = "integrity"
        /// --require-complete or another gate refused to write.
        case refusedByGate = "refused-by-gate"
        /// Another run holds the lock.
        case locked = "locked"
        /// The folder given as a repository is not one (`sigvault init` makes one).
        case noRepository = "no-repository"
        /// The repository's catalog cannot be read or written.
        case catalog = "catalog"
        /// SIGINT, SIGTERM or SIGHUP stopped the run.
        case interrupted = "interrupted"
        /// SigVault broke one of its own invariants: a bug.
        case internalInvariant = "internal-invariant"
    }

    public let code: Code
    public let message: String
    public let hint: String?
    /// What caused it, when another error did (an errno, a library error).
    public let cause: (any Error & Sendable)?
    /// Where it was raised, for bug reports.
    public private(set) var raisedAt: String
    /// Warnings gathered before the command stopped (printed before the error).
    public var warnings: [String] = []
    public var description: String { message }

    public var exitCode: ExitCode {
        switch code {
        case .usage: return .usage
        case .inputMissing: return .inputMissing
        case .inputInvalid, .archiveInvalid, .unsafeName: return .invalidInput
        case .archiveRead, .sourceUnreadable, .outputWrite, .scratch: return .ioError
        case .outputExists, .outputCreate: return .cannotCreateOutput
        case .integrity: return .integrityOrFailed
        case .refusedByGate: return .refusedByGate
        case .locked: return .locked
        case .noRepository: return .noRepository
        case .catalog: return .ioError
        case .interrupted: return .interrupted
        case .internalInvariant: return .internalError
        }
    }

    public init(_ code: Code, _ message: String, hint: String? = nil, cause: (any Error & Sendable)? = nil, warnings: [String] = [],
                fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.hint = hint
        self.cause = cause
        self.warnings = warnings
        self.raisedAt = "\(fileID):\(line)"
    }

    /// The same error with more said at the end of its message.
    public func appending(_ text: String) -> SigVaultError {
        var copy = SigVaultError(code, message + text, hint: hint, cause: cause, warnings: warnings)
        copy.raisedAt = raisedAt
        return copy
    }
}

/// errno as an error value, with its text.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let number: Int32
    public init(_ number: Int32 = errno) { self.number = number }
    public var description: String { String(cString: strerror(number)) }
}

/// The one table of exit codes (docs/CLI.md).
public enum ExitCode: Int32, Sendable, Codable {
    case ok = 0
    case integrityOrFailed = 1
    case findings = 2
    case partlyUnreadable = 3
    case refusedByGate = 4
    case noRepository = 10
    case locked = 11
    case usage = 64
    case invalidInput = 65
    case inputMissing = 66
    case cannotCreateOutput = 73
    case ioError = 74
    /// An internal invariant broke (EX_SOFTWARE).
    case internalError = 70
    /// Stopped by SIGINT (130); SIGTERM and SIGHUP exit 143 and 129 directly.
    case interrupted = 130

    /// Rank when several outcomes apply: 1 > 4 > 3 > 2 > 0.
    var severity: Int {
        switch self {
        case .integrityOrFailed: return 4
        case .refusedByGate: return 3
        case .partlyUnreadable: return 2
        case .findings: return 1
        case .ok: return 0
        default: return 5
        }
    }

    public func combined(with other: ExitCode) -> ExitCode { other.severity > severity ? other : self }

    /// As `combined`, except that 10 for content in a repository that was not given (FORMAT.md
    /// §4.3) outranks only 0 and 2: it never hides damage (1) or an error.
    public func combinedKeepingDamage(with other: ExitCode) -> ExitCode {
        switch (self, other) {
        case (.noRepository, .ok), (.noRepository, .findings): return self
        case (.ok, .noRepository), (.findings, .noRepository): return other
        case (.noRepository, let worse), (let worse, .noRepository): return worse
        default: return combined(with: other)
        }
    }
}

/// Parses the `--at` time of the command line.
public enum TimeArgument {
    public static func parse(_ text: String) -> Date? { SigVaultFormatTime.parse(text) }
}
typealias SigVaultFormatTime = ISOTime
