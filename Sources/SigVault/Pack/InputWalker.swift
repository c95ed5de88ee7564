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

/// The walk of the inputs: the files found, by the raw bytes of their names (kept in a scratch
/// file, FileList), and what could not be read.
public struct InputWalk: Sendable {
    public let files: FileList
    public let warnings: [String]
    public let unreadable: Bool

    /// Walks `inputs`; the list's scratch file is made in `scratchDirectory`.
    public init(_ inputs: [String], scratchDirectory: String) throws {
        var walker = InputWalker()
        files = try FileList(directory: scratchDirectory)
        try walker.walk(inputs, into: files)
        warnings = walker.warnings
        unreadable = walker.unreadable
    }

    /// A walk made of files chosen from another (the repository's backup: what changed tonight).
    public init(files: FileList, warnings: [String], unreadable: Bool) {
        self.files = files
        self.warnings = warnings
        self.unreadable = unreadable
    }
}

/// Walks the inputs without following symbolic links, as tar does, one folder at a time: each
/// input is walked depth first, a folder's entries sorted as their full names sort (a folder's
/// name as if followed by `/`), so the files come out in the byte order of their names (FORMAT.md
/// §2) without the walk holding more than the folders it is in; the inputs' walks are merged, and a
/// name reached from two inputs must be the same file.
public struct InputWalker {
    var warnings: [String] = []
    var unreadable = false
    /// Folders with nothing in them: an archive holds files, so they are left out, and pack says so.
    private var emptyFolders: [String] = []
    private var emptyFolderCount = 0

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

    mutating func walk(_ inputs: [String], into list: FileList) throws {
        var streams: [InputStream] = []
        for input in inputs {
            let relative = try InputWalker.relativeName(of: input)
            var info = stat()
            guard lstat(input, &info) == 0 else {
                if errno == ENOENT { throw SigVaultError(.inputMissing, "\(input): no such file or folder") }
                throw SigVaultError(.inputMissing, "\(input): cannot read: \(POSIX.errorText)")
            }
            streams.append(InputStream(path: Array(input.utf8), relative: relative, info: info))
        }
        var heads: [InputFile?] = []
        for index in streams.indices { heads.append(streams[index].next(&self)) }
        var last: InputFile?
        while true {
            var smallest: Int?
            for index in heads.indices {
                guard let head = heads[index] else { continue }
                if let current = smallest, let other = heads[current], !(head.relativePath < other.relativePath) { continue }
                smallest = index
            }
            guard let chosen = smallest, let file = heads[chosen] else { break }
            heads[chosen] = streams[chosen].next(&self)
            if let earlier = last, earlier.relativePath == file.relativePath {
                guard earlier.identity == file.identity else {
                    throw SigVaultError(.usage, "\(file.relativePath): two different files would be archived under this one name",
                                        hint: "give the inputs so that their relative names differ")
                }
                continue
            }
            try list.append(file)
            last = file
        }
        if emptyFolderCount > 0 {
            let shown = emptyFolders.joined(separator: ", ") + (emptyFolderCount > emptyFolders.count ? ", and \(emptyFolderCount - emptyFolders.count) more" : "")
            warnings.append("left out \(emptyFolderCount) empty folder(s), since an archive holds files, not folders (restore will not recreate them): \(shown)")
        }
    }

    fileprivate mutating func warn(_ text: String, unreadable: Bool = true) {
        warnings.append(text)
        if unreadable { self.unreadable = true }
    }

    fileprivate mutating func noteEmptyFolder(_ path: [UInt8]) {
        emptyFolderCount += 1
        if emptyFolders.count < 5 { emptyFolders.append(ArchivePath.escaped(path)) }
    }
}

/// One input's files in name order: the folders it is in, each with its entries still to visit.
private struct InputStream {
    struct Entry {
        /// The name, followed by "/" for a folder: where its files' names sort.
        let key: [UInt8]
        let isFolder: Bool
        var name: [UInt8] { isFolder ? Array(key.dropLast()) : key }
    }
    struct Folder {
        let fd: Int32
        let path: [UInt8]
        let relative: [UInt8]
        var entries: [Entry]
        var next = 0
    }
    private var root: (path: [UInt8], relative: [UInt8], info: stat)?
    private var folders: [Folder] = []

    init(path: [UInt8], relative: [UInt8], info: stat) {
        root = (path, relative, info)
    }

    /// The next file, or nil when the input is done (its folders are closed then).
    mutating func next(_ walker: inout InputWalker) -> InputFile? {
        if let (path, relative, info) = root {
            root = nil
            if let file = visit(path: path, parent: AT_FDCWD, name: path, relative: relative, info: info, walker: &walker) { return file }
        }
        while !folders.isEmpty {
            let top = folders.count - 1
            guard folders[top].next < folders[top].entries.count else {
                closeFolder(folders.removeLast().fd)
                continue
            }
            let entry = folders[top].entries[folders[top].next]
            folders[top].next += 1
            let folder = (fd: folders[top].fd, path: folders[top].path, relative: folders[top].relative)
            let name = entry.name
            let childPath = folder.path.last == UInt8(ascii: "/") ? folder.path + name : folder.path + [UInt8(ascii: "/")] + name
            let childRelative = folder.relative.isEmpty ? name : folder.relative + [UInt8(ascii: "/")] + name
            var childInfo = stat()
            guard POSIX.withPath(name, { fstatat(folder.fd, $0, &childInfo, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                walker.warn("\(ArchivePath.escaped(childPath)): cannot read: \(POSIX.errorText)")
                continue
            }
            if let file = visit(path: childPath, parent: folder.fd, name: name, relative: childRelative, info: childInfo, walker: &walker) {
                return file
            }
        }
        return nil
    }

    private func closeFolder(_ fd: Int32) { close(fd) }

    /// Visits `path`, which is `name` in the open folder `parent`: system calls are made relative to
    /// it, so no path is looked up twice and, during the walk, a folder swapped for a link is not
    /// followed. (The files are opened again by their full path when archived, with `O_NOFOLLOW` on
    /// the last component only.) A file is returned; a folder is opened and becomes the next one
    /// walked.
    private mutating func visit(path: [UInt8], parent: Int32, name: [UInt8], relative: [UInt8], info: stat,
                                walker: inout InputWalker) -> InputFile? {
        func described(_ kind: InputFile.Kind) -> InputFile {
            var file = InputFile(relativePath: ArchivePath(bytes: relative), filesystemPath: path, kind: kind,
                                 mode: UInt32(info.st_mode & 0o7777), modificationTime: Int64(info.st_mtim.tv_sec))
            file.identity = (UInt64(info.st_dev), UInt64(info.st_ino))
            file.modificationNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            file.changeNanoseconds = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
            return file
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard !relative.isEmpty else { return nil }
            // Find unreadable files now, so they are reported once and left out of the analysis.
            let probe = POSIX.withPath(name) { openat(parent, $0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
            guard probe >= 0 else {
                walker.warn("\(ArchivePath.escaped(path)): cannot open: \(POSIX.errorText); not archived")
                return nil
            }
            close(probe)
            return described(.regular(size: Int64(info.st_size)))
        case S_IFLNK:
            var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = POSIX.withPath(name) { cName in
                buffer.withUnsafeMutableBytes { readlinkat(parent, cName, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
            }
            guard length >= 0 else {
                walker.warn("\(ArchivePath.escaped(path)): cannot read symbolic link: \(POSIX.errorText)")
                return nil
            }
            return described(.symbolicLink(target: Array(buffer.prefix(length))))
        case S_IFDIR:
            let folder = POSIX.withPath(name) { openat(parent, $0, O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW) }
            guard folder >= 0 else {
                walker.warn("\(ArchivePath.escaped(path)): cannot open folder: \(POSIX.errorText)")
                return nil
            }
            // The listing gets its own descriptor: closedir closes it, the walk keeps `folder`.
            let listing = dup(folder)
            guard listing >= 0, let directory = fdopendir(listing) else {
                walker.warn("\(ArchivePath.escaped(path)): cannot open folder: \(POSIX.errorText)")
                if listing >= 0 { close(listing) }
                close(folder)
                return nil
            }
            var entries: [Entry] = []
            while let entry = readdir(directory) {
                let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in Array(raw.prefix { $0 != 0 }) }
                if entryName == [UInt8(ascii: ".")] || entryName == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
                var isFolder = entry.pointee.d_type == UInt8(DT_DIR)
                if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                    // A file system that does not say: ask (a failure shows again when it is visited).
                    var entryInfo = stat()
                    isFolder = POSIX.withPath(entryName, { fstatat(folder, $0, &entryInfo, AT_SYMLINK_NOFOLLOW) }) == 0
                        && entryInfo.st_mode & S_IFMT == S_IFDIR
                }
                entries.append(Entry(key: isFolder ? entryName + [UInt8(ascii: "/")] : entryName, isFolder: isFolder))
            }
            closedir(directory)
            if entries.isEmpty { walker.noteEmptyFolder(path) }
            entries.sort { ArchivePath(bytes: $0.key) < ArchivePath(bytes: $1.key) }
            folders.append(Folder(fd: folder, path: path, relative: relative, entries: entries))
            return nil
        default:
            walker.warn("\(ArchivePath.escaped(path)): skipped: not a regular file, folder or symbolic link (socket, device or FIFO)", unreadable: false)
            return nil
        }
    }
}
