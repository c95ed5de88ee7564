import SigVaultFormat
import Foundation

/// An error that stops a command, with the exit code it maps to (docs/CLI.md).
public struct SigVaultError: Error, CustomStringConvertible, Sendable {
    public let exitCode: ExitCode
    public let message: String
    public let hint: String?
    /// Warnings gathered before the command stopped (printed before the error).
    public var warnings: [String] = []
    public var description: String { message }

    public init(_ exitCode: ExitCode, _ message: String, hint: String? = nil, warnings: [String] = []) {
        self.exitCode = exitCode
        self.message = message
        self.hint = hint
        self.warnings = warnings
    }
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
}

/// Parses the `--at` time of the command line.
public enum TimeArgument {
    public static func parse(_ text: String) -> Date? { SigVaultFormatTime.parse(text) }
}
typealias SigVaultFormatTime = ISOTime
