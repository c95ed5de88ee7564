/// A path on this machine's file system as the bytes the kernel takes: the one type that splits and
/// joins local paths (NSString's path methods crash on one-character names in corelibs Foundation
/// and normalise what they should keep).
public struct LocalPath: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    private static let slash = UInt8(ascii: "/")

    /// The name for people (undecodable bytes as `\xHH`).
    public var description: String { ArchivePath.escaped(bytes) }

    /// The path as a String for APIs that take one (exact when the bytes are UTF-8).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// The bytes without trailing slashes (a lone `/` stays).
    private var trimmed: ArraySlice<UInt8> {
        var end = bytes.count
        while end > 1, bytes[end - 1] == LocalPath.slash { end -= 1 }
        return bytes[0..<end]
    }

    /// The folder holding this path, as dirname(1) gives it: `o` → `.`, `a/b` → `a`, `/a` → `/`.
    public var parent: LocalPath {
        let path = trimmed
        guard let lastSlash = path.lastIndex(of: LocalPath.slash) else { return LocalPath(".") }
        var end = lastSlash
        while end > 0, path[end - 1] == LocalPath.slash { end -= 1 }
        return end == 0 ? LocalPath("/") : LocalPath(bytes: Array(path[0..<end]))
    }

    /// The last component, as basename(1) gives it: `a/b/` → `b`, `/` → `/`.
    public var lastComponent: [UInt8] {
        let path = trimmed
        guard let lastSlash = path.lastIndex(of: LocalPath.slash), path.count > 1 else { return Array(path) }
        return Array(path[(lastSlash + 1)...])
    }

    /// This path with `component` (one name or a relative path) below it.
    public func appending(_ component: [UInt8]) -> LocalPath {
        if bytes.isEmpty { return LocalPath(bytes: component) }
        return LocalPath(bytes: bytes.last == LocalPath.slash ? bytes + component : bytes + [LocalPath.slash] + component)
    }

    public func appending(_ component: String) -> LocalPath { appending(Array(component.utf8)) }

    /// Every path from the first component down to this one: `a/b/c` → `a`, `a/b`, `a/b/c`.
    public var prefixes: [LocalPath] {
        var out: [LocalPath] = []
        let path = trimmed
        for index in path.indices where path[index] == LocalPath.slash && index > 0 && path[index - 1] != LocalPath.slash {
            out.append(LocalPath(bytes: Array(path[0..<index])))
        }
        if !path.isEmpty, path != [LocalPath.slash] { out.append(LocalPath(bytes: Array(path))) }
        return out
    }
}
