import Foundation
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// A file found under the inputs.
public struct InputFile: Sendable {
    public enum Kind: Sendable { case regular(size: Int64), symbolicLink(target: [UInt8]) }
    /// Name relative to the inputs, as tar would store it (without `data/`).
    public let relativePath: ArchivePath
    /// Where it is on disk.
    public let filesystemPath: [UInt8]
    public let kind: Kind
    public let mode: UInt32
    public let modificationTime: Int64
    /// Device and inode: the same name reached twice must be the same file.
    public var identity: (UInt64, UInt64) = (0, 0)
    /// st_mtim and st_ctim in nanoseconds: with the identity and the size, what the repository's
    /// stat cache compares to know a file unchanged without reading it.
    public var modificationNanoseconds: Int64 = 0
    public var changeNanoseconds: Int64 = 0

    public var size: Int64 { if case .regular(let size) = kind { return size } else { return 0 } }
}

/// The walk of the inputs: the files found in name order, and what could not be read.
public struct InputWalk: Sendable {
    public let files: [InputFile]
    public let warnings: [String]
    public let unreadable: Bool

    public init(_ inputs: [String]) throws {
        var walker = InputWalker()
        files = try walker.walk(inputs)
        warnings = walker.warnings
        unreadable = walker.unreadable
    }
}

/// Walks the inputs without following symbolic links, as tar does.
public struct InputWalker {
    var warnings: [String] = []
    var unreadable = false
    /// Folders with nothing in them: an archive holds files, so they are left out, and pack says so.
    private(set) var emptyFolders: [String] = []
    private var collision: String?

    /// Records `file` under its name; the same name for a different file is a collision.
    private mutating func record(_ file: InputFile, into found: inout [ArchivePath: InputFile]) {
        if let earlier = found[file.relativePath], earlier.identity != file.identity {
            collision = collision ?? file.relativePath.description
            return
        }
        found[file.relativePath] = file
    }

    /// Makes an input path relative the way tar does; refuses `..`.
    public static func relativeName(of input: String) throws -> [UInt8] {
        var components = input.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map(Array.init)
        if components.contains([UInt8(ascii: "."), UInt8(ascii: ".")]) {
            throw SigVaultError(.usage, "\(input): input paths must not contain a '..' component",
                                hint: "run sigvault from a folder above the files, or give an absolute path")
        }
        components.removeAll { $0 == [UInt8(ascii: ".")] }
        return Array(components.joined(separator: [UInt8(ascii: "/")]))
    }

    mutating func walk(_ inputs: [String]) throws -> [InputFile] {
        var found: [ArchivePath: InputFile] = [:]
        collision = nil
        for input in inputs {
            let relative = try InputWalker.relativeName(of: input)
            var info = stat()
            guard lstat(input, &info) == 0 else {
                if errno == ENOENT { throw SigVaultError(.inputMissing, "\(input): no such file or folder") }
                throw SigVaultError(.inputMissing, "\(input): cannot read: \(POSIX.errorText)")
            }
            let path = Array(input.utf8)
            visit(path: path, parent: AT_FDCWD, name: path, relative: relative, info: info, into: &found)
            if let collision {
                throw SigVaultError(.usage, "\(collision): two different files would be archived under this one name",
                                    hint: "give the inputs so that their relative names differ")
            }
        }
        if !emptyFolders.isEmpty {
            let shown = emptyFolders.prefix(5).joined(separator: ", ") + (emptyFolders.count > 5 ? ", and \(emptyFolders.count - 5) more" : "")
            warnings.append("left out \(emptyFolders.count) empty folder(s), since an archive holds files, not folders (restore will not recreate them): \(shown)")
        }
        return found.values.sorted { $0.relativePath < $1.relativePath }
    }

    /// Visits `path`, which is `name` in the open folder `parent`: system calls are made relative to
    /// it, so no path is looked up twice and, during the walk, a folder swapped for a link is not
    /// followed. (The files are opened again by their full path when archived, with `O_NOFOLLOW` on
    /// the last component only.)
    private mutating func visit(path: [UInt8], parent: Int32, name: [UInt8], relative: [UInt8], info: stat,
                                into found: inout [ArchivePath: InputFile]) {
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard !relative.isEmpty else { return }
            // Find unreadable files now, so they are reported once and left out of the analysis.
            let probe = POSIX.withPath(name) { openat(parent, $0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
            guard probe >= 0 else {
                warnings.append("\(ArchivePath.escaped(path)): cannot open: \(POSIX.errorText); not archived")
                unreadable = true
                return
            }
            close(probe)
            var file = InputFile(relativePath: ArchivePath(bytes: relative), filesystemPath: path, kind: .regular(size: Int64(info.st_size)),
                                 mode: UInt32(info.st_mode & 0o7777), modificationTime: Int64(info.st_mtim.tv_sec))
            file.identity = (UInt64(info.st_dev), UInt64(info.st_ino))
            file.modificationNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            file.changeNanoseconds = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
            record(file, into: &found)
        case S_IFLNK:
            var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = POSIX.withPath(name) { cName in
                buffer.withUnsafeMutableBytes { readlinkat(parent, cName, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
            }
            guard length >= 0 else {
                warnings.append("\(ArchivePath.escaped(path)): cannot read symbolic link: \(POSIX.errorText)")
                unreadable = true
                return
            }
            var file = InputFile(relativePath: ArchivePath(bytes: relative), filesystemPath: path,
                                 kind: .symbolicLink(target: Array(buffer.prefix(length))),
                                 mode: UInt32(info.st_mode & 0o7777), modificationTime: Int64(info.st_mtim.tv_sec))
            file.identity = (UInt64(info.st_dev), UInt64(info.st_ino))
            file.modificationNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            file.changeNanoseconds = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
            record(file, into: &found)
        case S_IFDIR:
            let folder = POSIX.withPath(name) { openat(parent, $0, O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW) }
            guard folder >= 0, let directory = fdopendir(folder) else {
                warnings.append("\(ArchivePath.escaped(path)): cannot open folder: \(POSIX.errorText)")
                if folder >= 0 { close(folder) }
                unreadable = true
                return
            }
            defer { closedir(directory) }
            var names: [[UInt8]] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                    Array(raw.prefix { $0 != 0 })
                }
                if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
                names.append(name)
            }
            if names.isEmpty { emptyFolders.append(ArchivePath.escaped(path)) }
            for name in names.sorted(by: { ArchivePath(bytes: $0) < ArchivePath(bytes: $1) }) {
                let childPath = path.last == UInt8(ascii: "/") ? path + name : path + [UInt8(ascii: "/")] + name
                let childRelative = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
                var childInfo = stat()
                guard POSIX.withPath(name, { fstatat(folder, $0, &childInfo, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                    warnings.append("\(ArchivePath.escaped(childPath)): cannot read: \(POSIX.errorText)")
                    unreadable = true
                    continue
                }
                visit(path: childPath, parent: folder, name: name, relative: childRelative, info: childInfo, into: &found)
            }
        default:
            warnings.append("\(ArchivePath.escaped(path)): skipped: not a regular file, folder or symbolic link (socket, device or FIFO)")
        }
    }
}
