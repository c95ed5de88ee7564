internal import CArchive
internal import CZstd

/// An error raised while reading or writing the archive's tar and zstd layers.
public struct ArchiveIOError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The bytes are not what the format requires (bad frame, bad tar header, bomb).
        case malformed
        /// The operating system refused a read or write.
        case io
        /// libarchive or libzstd failed for another reason.
        case library
    }
    public let code: Code
    public let message: String
    public var description: String { message }
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// The libarchive and libzstd libraries in use, as `sigvault --version` prints them.
public enum ArchiveLibraries {
    public static var libarchive: String { String(cString: archive_version_string()) }
    public static var libzstd: String { "libzstd " + String(cString: ZSTD_versionString()) }
}
