import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// Restored files waiting to be made durable and put in place, shared by the restoring threads.
/// One `syncfs` makes a whole batch's data durable before any of it is linked (or, with --force,
/// renamed) under its real name, and a second one makes the names durable: the guarantee of an
/// fsync per file, without paying the disk's latency once per file. Folders are reopened (without
/// following links) at commit time, so no descriptor is held per waiting file.
final class PlacementBatch: @unchecked Sendable {
    struct Pending {
        let folder: [[UInt8]]
        let temporary: [UInt8]
        /// The temporary's path as registered with TemporaryFiles.
        let registered: LocalPath
        let leaf: [UInt8]
        let name: String
    }

    static let size = 1024
    /// Batches smaller than this are made durable with an fsync per file and per folder.
    static let fsyncLimit = 64
    private let root: Int32
    private let force: Bool
    private let target: String
    private let progress: RestoreProgress
    private let openFolder: ([[UInt8]]) throws -> Int32
    private let lock = NSLock()
    private var pending: [Pending] = []

    init(root: Int32, force: Bool, target: String, progress: RestoreProgress, openFolder: @escaping ([[UInt8]]) throws -> Int32) {
        self.root = root
        self.force = force
        self.target = target
        self.progress = progress
        self.openFolder = openFolder
    }

    func add(_ item: Pending) throws {
        lock.lock()
        defer { lock.unlock() }
        pending.append(item)
        if pending.count >= PlacementBatch.size { try commitLocked() }
    }

    func commit() throws {
        lock.lock()
        defer { lock.unlock() }
        try commitLocked()
    }

    private func commitLocked() throws {
        guard !pending.isEmpty else { return }
        let items = pending
        pending = []
        var folders: [[[UInt8]]: Int32] = [:]
        defer { for fd in folders.values where fd != root { close(fd) } }
        func folder(_ components: [[UInt8]]) throws -> Int32 {
            if let fd = folders[components] { return fd }
            let fd = try openFolder(components)
            folders[components] = fd
            return fd
        }
        // A few files are fsynced one by one: syncfs would also wait for every other dirty file
        // on the file system (restoring one document after writing 200,000 files took 1.7 s). A
        // file whose fsync fails is left out alone; syncfs failing leaves out the whole batch.
        let fileByFile = items.count < PlacementBatch.fsyncLimit
        var durable: [Pending] = []
        var failure: Error?
        if fileByFile {
            for item in items {
                let directory: Int32
                do { directory = try folder(item.folder) } catch { failure = failure ?? error; continue }
                let fd = POSIX.withPath(item.temporary) { openat(directory, $0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
                let synced = fd >= 0 && fsync(fd) == 0
                let reason = POSIX.errorText
                if fd >= 0 { close(fd) }
                if synced {
                    durable.append(item)
                } else {
                    _ = POSIX.withPath(item.temporary) { unlinkat(directory, $0, 0) }
                    TemporaryFiles.shared.forget(item.registered)
                    failure = failure ?? SigVaultError(.outputWrite, "\(target)/\(item.name): sync failed: \(reason)")
                }
            }
        } else {
            guard syncfs(root) == 0 else {
                let reason = POSIX.errorText
                for item in items {
                    if let fd = try? folder(item.folder) { _ = POSIX.withPath(item.temporary) { unlinkat(fd, $0, 0) } }
                    TemporaryFiles.shared.forget(item.registered)
                }
                throw SigVaultError(.outputWrite, "\(target): sync failed: \(reason)")
            }
            durable = items
        }
        for item in durable {
            let directory: Int32
            do { directory = try folder(item.folder) } catch { failure = failure ?? error; continue }
            let placed: Int32
            if force {
                placed = POSIX.withPath(item.temporary) { from in POSIX.withPath(item.leaf) { to in renameat(directory, from, directory, to) } }
            } else {
                placed = POSIX.withPath(item.temporary) { from in POSIX.withPath(item.leaf) { to in linkat(directory, from, directory, to, 0) } }
            }
            let reason = errno == EEXIST ? "already exists (use --force to overwrite)" : "cannot put in place: \(POSIX.errorText)"
            if !force || placed != 0 { _ = POSIX.withPath(item.temporary) { unlinkat(directory, $0, 0) } }
            TemporaryFiles.shared.forget(item.registered)
            if placed == 0 {
                progress.restored(item.name)
            } else if failure == nil {
                failure = SigVaultError(.outputCreate, "\(target)/\(item.name): \(reason)")
            }
        }
        if fileByFile {
            // The new names: each file's folder (folders created on the way were made durable in
            // their parents when created, see openDirectories).
            for components in Set(durable.map(\.folder)) { if let fd = try? folder(components) { _ = fsync(fd) } }
        } else {
            _ = syncfs(root)
        }
        if let failure { throw failure }
    }
}
