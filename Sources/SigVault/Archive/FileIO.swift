import Foundation
import SigVaultFormat
#if canImport(Glibc)
import Glibc
internal import CSystem
#endif

/// POSIX helpers working on raw byte paths (names need not be UTF-8).
enum POSIX {
    static func withPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var terminated = path
        terminated.append(0)
        return try terminated.withUnsafeBufferPointer { buffer in
            try buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { try body($0) }
        }
    }

    static var errorText: String { String(cString: strerror(errno)) }

    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String, code: SigVaultError.Code) throws {
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SigVaultError(code, "\(path): write failed: \(errorText)", cause: SystemError())
            }
            offset += written
        }
    }

    static func readAt(_ fd: Int32, offset: UInt64, count: Int, path: String, code: SigVaultError.Code) throws -> [UInt8] {
        var failure: Int32 = 0
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let got = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if got == 0 { break }
                done += got
            }
            initialized = done
        }
        if failure != 0 {
            throw SigVaultError(code, "\(path): read failed at offset \(offset + UInt64(out.count)): \(String(cString: strerror(failure)))", cause: SystemError(failure))
        }
        return out
    }

    static func fileSize(_ fd: Int32) -> UInt64? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return UInt64(info.st_size)
    }
}

/// A file written under a temporary name next to its destination, fsynced, then renamed over it:
/// the destination is either absent, the old file, or the complete new file.
final class AtomicOutputFile {
    let destination: String
    let temporaryPath: String
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var bytesWritten: UInt64 = 0
    private var committed = false
    /// Bytes handed to the kernel, and where the range not yet sent to the disk starts.
    private var bytesInKernel: UInt64 = 0
    private var writebackStart: UInt64 = 0

    /// `.<name>.sigvault-tmp-<pid>-<random>-<host>` beside the destination.
    static let marker = ".sigvault-tmp-"

    init(destination: String, overwrite: Bool) throws {
        self.destination = destination
        let path = LocalPath(destination)
        let name = path.lastComponent
        guard !name.isEmpty, name != Array("/".utf8), name != Array(".".utf8), name != Array("..".utf8) else {
            throw SigVaultError(.outputCreate, "\(destination): not a file name")
        }
        var existing = stat()
        if !overwrite && POSIX.withPath(path.bytes, { lstat($0, &existing) }) == 0 {
            throw SigVaultError(.outputExists, "\(destination): already exists", hint: "choose another name or remove it first")
        }
        let folder = path.parent
        let folderFD = POSIX.withPath(folder.bytes) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard folderFD >= 0 else {
            throw SigVaultError(.outputCreate, "\(destination): cannot create: the folder \(folder): \(POSIX.errorText)", cause: SystemError())
        }
        defer { close(folderFD) }
        // What a killed run of ours left beside this output goes first.
        TemporaryFiles.shared.removeStale(in: folderFD, folderName: folder, prefix: [UInt8(ascii: ".")] + name + Array(AtomicOutputFile.marker.utf8),
                                          marker: AtomicOutputFile.marker)
        let temporary = folder.appending([UInt8(ascii: ".")] + name + Array("\(AtomicOutputFile.marker)\(TemporaryFiles.tag())".utf8))
        temporaryPath = temporary.string
        temporaryLocalPath = temporary
        fd = try TemporaryFiles.shared.creatingFile(temporary) {
            let fd = POSIX.withPath(temporary.bytes) { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
            guard fd >= 0 else { throw SigVaultError(.outputCreate, "\(destination): cannot create: \(POSIX.errorText)", cause: SystemError()) }
            return fd
        }
        buffer.reserveCapacity(1 << 20)
    }

    private let temporaryLocalPath: LocalPath

    deinit {
        if !committed {
            close(fd)
            _ = POSIX.withPath(temporaryLocalPath.bytes) { unlink($0) }
            TemporaryFiles.shared.forget(temporaryLocalPath)
        }
    }

    /// Writes go to the kernel in pieces of at most this size (dd on this machine copied into the
    /// page cache faster with 128–256 KiB writes than with 1 MiB ones).
    static let writeChunk = 256 << 10

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        bytesWritten += UInt64(bytes.count)
        if buffer.count + bytes.count > AtomicOutputFile.writeChunk { try flush() }
        if bytes.count >= AtomicOutputFile.writeChunk / 4 {
            try flush()
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + AtomicOutputFile.writeChunk, bytes.count)
                try writeToKernel(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                offset = end
            }
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeToKernel($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Written data is sent to the disk in the background every this many bytes, so that the
    /// final fsync has little left to wait for (it cost a tenth of a 1 GB pack without this).
    static let writebackChunk: UInt64 = 8 << 20

    private func writeToKernel(_ bytes: UnsafeRawBufferPointer) throws {
        try POSIX.writeAll(fd, bytes, path: destination, code: .outputWrite)
        bytesInKernel += UInt64(bytes.count)
        // Whole MiBs only: a page still being filled is never under writeback (a write into it
        // would have to wait for the disk).
        let end = bytesInKernel & ~(UInt64(1 << 20) - 1)
        if end >= writebackStart + AtomicOutputFile.writebackChunk {
            // Only starts the writeback; errors, if any, are reported by the fsync in commit().
            _ = startWriteback(fd, offset: Int64(writebackStart), count: Int64(end - writebackStart))
            writebackStart = end
        }
    }

    /// Drops everything written after `offset` (a member abandoned half-way); writing goes on there.
    func truncate(to offset: UInt64) throws {
        try flush()
        guard ftruncate(fd, off_t(offset)) == 0, lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else {
            throw SigVaultError(.outputWrite, "\(destination): cannot truncate: \(POSIX.errorText)")
        }
        bytesWritten = offset
        bytesInKernel = offset
        writebackStart = min(writebackStart, offset & ~(UInt64(1 << 20) - 1))
    }

    /// Flushes, fsyncs, renames into place and fsyncs the folder.
    func commit(overwrite: Bool) throws {
        try flush()
        guard fsync(fd) == 0 else { throw SigVaultError(.outputWrite, "\(destination): fsync failed: \(POSIX.errorText)") }
        CrashPoints.reach("output.synced")
        close(fd)
        committed = true
        defer { TemporaryFiles.shared.forget(temporaryLocalPath) }
        if !overwrite {
            // link() refuses to replace: an output that appeared meanwhile is not clobbered.
            if link(temporaryPath, destination) != 0 {
                let number = errno
                unlink(temporaryPath)
                throw SigVaultError(number == EEXIST ? .outputExists : .outputCreate, "\(destination): cannot create: \(SystemError(number))",
                                    cause: SystemError(number))
            }
            CrashPoints.reach("output.linked")
            unlink(temporaryPath)
        } else if rename(temporaryPath, destination) != 0 {
            let reason = POSIX.errorText
            unlink(temporaryPath)
            throw SigVaultError(.outputCreate, "\(destination): cannot rename into place: \(reason)")
        } else {
            CrashPoints.reach("output.linked")
        }
        let dirFD = POSIX.withPath(temporaryLocalPath.parent.bytes) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}

/// An append-only scratch file for data that must not stay in memory (index records, manifest).
final class SpillFile {
    let path: String
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var size: UInt64 = 0

    init(directory: String, name: String) throws {
        path = directory + "/.\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SigVaultError(.scratch, "\(path): cannot create scratch file: \(POSIX.errorText)") }
        unlink(path)
    }

    deinit { close(fd) }

    func append(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        size += UInt64(bytes.count)
        if buffer.count >= 1 << 20 { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try POSIX.writeAll(fd, $0, path: path, code: .scratch) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Drops everything after the first `offset` bytes.
    func truncate(to offset: UInt64) throws {
        try flush()
        guard ftruncate(fd, off_t(offset)) == 0, lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else {
            throw SigVaultError(.scratch, "\(path): cannot truncate scratch file: \(POSIX.errorText)")
        }
        size = offset
    }

    /// Streams the whole content to `body` in chunks.
    func readAll(_ body: ([UInt8]) throws -> Void) throws {
        try flush()
        var offset: UInt64 = 0
        while offset < size {
            let chunk = try POSIX.readAt(fd, offset: offset, count: Int(min(UInt64(1 << 20), size - offset)), path: path, code: .scratch)
            if chunk.isEmpty { break }
            try body(chunk)
            offset += UInt64(chunk.count)
        }
    }
}

/// syncfs(2): flushes the whole file system holding `fd` (through the CSystem shim).
func syncfs(_ fd: Int32) -> Int32 { sv_syncfs(fd) }

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writeback of a range without waiting for it.
func startWriteback(_ fd: Int32, offset: Int64, count: Int64) -> Int32 { sv_sync_file_range_write(fd, offset, count) }

/// Small files written whole and durably (the repository's config): a temporary file beside the
/// destination, fsynced, renamed (or, without `overwrite`, linked) into place, the folder fsynced.
public enum DurableFile {
    public static func write(_ bytes: [UInt8], to destination: String, overwrite: Bool) throws {
        let output = try AtomicOutputFile(destination: destination, overwrite: overwrite)
        try output.write(bytes)
        try output.commit(overwrite: overwrite)
    }

    /// fsync of a folder, so that the names created or removed in it are durable.
    public static func syncFolder(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }
}
