import Foundation
import SigVault
#if canImport(Glibc)
import Glibc
#endif

/// One object of a store: a name and its size.
public struct StoredObject: Sendable, Equatable {
    public let name: String
    public let size: UInt64
}

/// Where a repository keeps its archives: write-once objects, as an object store with Object Lock
/// would (docs/FORMAT.md, "Repository"). An object is put whole under a new name and never
/// overwritten, renamed or removed by SigVault; it can be listed and read by range. The local
/// folder is the first implementation; the engine sees only this protocol.
public protocol ObjectStore: Sendable {
    /// Puts the complete file at `file` (on the store's own file system for a folder store) under
    /// `name`, durably; `file` is consumed. Refuses a name already taken (`output-exists`).
    func put(_ name: String, from file: String) throws
    /// Every object, in name order.
    func list() throws -> [StoredObject]
    /// Every name in the store, whatever it is (for a folder: links and folders too), in name order:
    /// what `list` leaves out must not hide a name from a writer that picks the next one.
    func names() throws -> [String]
    /// `count` bytes at `offset` of an object (fewer at its end).
    func read(_ name: String, offset: UInt64, count: Int) throws -> [UInt8]
    /// A local file holding the object, for the readers that take a path (the folder store: the
    /// object itself; a remote store would fetch it to a cache first).
    func localFile(_ name: String) throws -> String
}

/// A folder as a bucket: `put` links the finished file in under its name (link(2) never replaces
/// a name), fsyncs the folder, then removes the temporary name.
public struct FolderObjectStore: ObjectStore {
    public let folder: String

    public init(folder: String) { self.folder = folder }

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && !name.contains("/") && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    public func put(_ name: String, from file: String) throws {
        guard Self.validName(name) else { throw SigVaultError(.internalInvariant, "\(name): not an object name") }
        let destination = folder + "/" + name
        guard link(file, destination) == 0 else {
            let error = errno
            if error == EEXIST { throw SigVaultError(.outputExists, "\(destination): an object of this name exists; objects are never overwritten") }
            throw SigVaultError(.outputCreate, "\(destination): cannot store the object: \(String(cString: strerror(error)))", cause: SystemError(error))
        }
        CrashPoints.reach("store.linked")
        DurableFile.syncFolder(folder)
        _ = unlink(file)
        DurableFile.syncFolder((file as NSString).deletingLastPathComponent)
    }

    public func list() throws -> [StoredObject] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw SigVaultError(.noRepository, "\(folder): the archives folder cannot be read")
        }
        return names.filter(Self.validName).sorted().compactMap { name in
            var info = stat()
            guard stat(folder + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            return StoredObject(name: name, size: UInt64(info.st_size))
        }
    }

    public func names() throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw SigVaultError(.noRepository, "\(folder): the archives folder cannot be read")
        }
        return names.filter(Self.validName).sorted()
    }

    public func read(_ name: String, offset: UInt64, count: Int) throws -> [UInt8] {
        let path = try localFile(name)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SigVaultError(.archiveRead, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw SigVaultError(.archiveRead, "\(path): read failed: \(String(cString: strerror(errno)))") }
            if got == 0 { break }
            done += got
        }
        return Array(out.prefix(done))
    }

    public func localFile(_ name: String) throws -> String {
        guard Self.validName(name) else { throw SigVaultError(.archiveInvalid, "\(name): not an object name") }
        return folder + "/" + name
    }
}
