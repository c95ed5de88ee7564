import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The named moments where a write becomes durable or visible (docs/ARCHITECTURE.md, "Crash
/// points"). A test sets `SIGVAULT_CRASH_AT=<name>` (or `<name>#<n>` for its n-th passage, from 1)
/// and the process kills itself with SIGKILL there, as a power cut would stop it: nothing is
/// flushed or cleaned up. Without the variable a crash point costs one comparison.
public enum CrashPoints {
    /// Every crash point, for the tests that visit each.
    public static let all = ["output.synced", "output.linked", "backup.packed", "store.linked", "backup.stored", "catalog.written", "backup.done"]
    /// The crash points `renew --repo` passes (those of its object writes among them).
    public static let renew = ["renew.stamped", "output.synced", "output.linked", "renew.written", "store.linked", "renew.stored", "renew.catalog"]

    private static let target: (name: String, count: Int)? = {
        guard let text = ProcessInfo.processInfo.environment["SIGVAULT_CRASH_AT"], !text.isEmpty else { return nil }
        let parts = text.split(separator: "#", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    nonisolated(unsafe) private static var passages: [String: Int] = [:]
    private static let lock = NSLock()

    public static func reach(_ name: String) {
        guard let target, target.name == name else { return }
        lock.lock()
        passages[name, default: 0] += 1
        let count = passages[name]!
        lock.unlock()
        if count == target.count { kill(getpid(), SIGKILL) }
    }
}
