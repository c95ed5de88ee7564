import Foundation
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// Every temporary file and scratch folder this process made and has not put in place or removed
/// yet, so that an interruption (SIGINT, SIGTERM, SIGHUP) removes them before the process exits.
/// Creation and cleanup take the same lock: a file is either created and registered before the
/// cleanup, or never created.
public final class TemporaryFiles: @unchecked Sendable {
    public static let shared = TemporaryFiles()

    private let lock = NSLock()
    private var files: Set<LocalPath> = []
    private var folders: Set<LocalPath> = []
    private var terminating = false
    private var staleRemoved: [String] = []

    /// The tag in every temporary name: `<pid>-<random>-<host>`, so that a later run can tell a
    /// temporary whose process is gone (after a SIGKILL or a power cut) from a live one.
    static func tag() -> String { "\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))-\(hostName)" }

    /// This host's name (in temporary names and the repository's lock).
    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name.replacingOccurrences(of: "/", with: "_")
    }()

    /// Runs `create` (which makes the file at `path`) and registers the path, unless the process is
    /// stopping.
    func creatingFile<Result>(_ path: LocalPath, _ create: () throws -> Result) throws -> Result {
        lock.lock()
        defer { lock.unlock() }
        guard !terminating else { throw SigVaultError(.interrupted, "\(path): not created: the run is being interrupted") }
        let result = try create()
        files.insert(path)
        return result
    }

    func creatingFolder(_ create: () throws -> LocalPath) throws -> LocalPath {
        lock.lock()
        defer { lock.unlock() }
        guard !terminating else { throw SigVaultError(.interrupted, "scratch folder not created: the run is being interrupted") }
        let path = try create()
        folders.insert(path)
        return path
    }

    /// The file was renamed into place or removed.
    func forget(_ path: LocalPath) {
        lock.lock()
        files.remove(path)
        lock.unlock()
    }

    func forgetFolder(_ path: LocalPath) {
        lock.lock()
        folders.remove(path)
        lock.unlock()
    }

    /// Removes every registered temporary and refuses new ones; the caller exits next. Returns how
    /// many files and folders were removed.
    @discardableResult
    public func removeAllForExit() -> Int {
        lock.lock()
        terminating = true
        let removed = files.count + folders.count
        for path in files { _ = POSIX.withPath(path.bytes) { unlink($0) } }
        for path in folders { try? FileManager.default.removeItem(atPath: path.string) }
        files = []
        folders = []
        return removed
        // The lock stays taken: no thread may create another temporary before the exit.
    }

    /// What earlier, killed runs left behind and this run removed (for warnings).
    public func takeStaleRemoved() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        let out = staleRemoved
        staleRemoved = []
        return out
    }

    /// Whether `name` (ending in a tag after `marker`) was made on this host by a process that is
    /// gone. A name from another host, or whose process may be alive, is never stale.
    static func isStale(_ name: [UInt8], marker: String) -> (pid: Int32, stale: Bool)? {
        guard let text = String(validating: name, as: UTF8.self), let range = text.range(of: marker) else { return nil }
        let parts = text[range.upperBound...].split(separator: "-", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let pid = Int32(parts[0]), pid > 0, UInt32(parts[1], radix: 16) != nil else { return nil }
        guard String(parts[2]) == hostName else { return (pid, false) }
        if pid == getpid() { return (pid, false) }
        return (pid, kill(pid, 0) != 0 && errno == ESRCH)
    }

    /// Removes from `folder` every entry whose name has `prefix` and a stale tag after `marker`.
    func removeStale(in folder: Int32, folderName: LocalPath, prefix: [UInt8], marker: String) {
        guard let dir = fdopendir(dup(folder)) else { return }
        defer { closedir(dir) }
        rewinddir(dir)  // a duplicate shares the offset of every earlier listing
        var stale: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            guard name.starts(with: prefix), let found = TemporaryFiles.isStale(name, marker: marker), found.stale else { continue }
            stale.append(name)
        }
        for name in stale where POSIX.withPath(name, { unlinkat(folder, $0, 0) }) == 0 {
            let shown = folderName.appending(name)
            lock.lock()
            staleRemoved.append("removed \(shown), left by an earlier run (process \(TemporaryFiles.isStale(name, marker: marker)?.pid ?? 0)) that is gone")
            lock.unlock()
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP stop the run: temporaries are removed and the process exits with
/// 128 + the signal's number (130, 143, 129), as shells report a death by that signal.
public enum Interruptions {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    public static func install() {
        for (signalNumber, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                let removed = TemporaryFiles.shared.removeAllForExit()
                let message = "sigvault: error: interrupted by \(name); nothing was left half-written"
                    + (removed > 0 ? " (\(removed) temporary file(s) removed)" : "") + "\n"
                message.utf8CString.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
                _exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }
}
