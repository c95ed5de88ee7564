import Foundation

/// Real servers on 127.0.0.1 for the network tests, started once per test process (on first use)
/// and stopped when it exits (each server watches a pipe this process holds open). Tests that use
/// them run in serialized suites.
final class LocalServer: @unchecked Sendable {
    let process: Process
    let port: Int
    private let lifeline = Pipe()

    /// Starts `script` (Python) with `arguments`; the script prints its port on its first line.
    init(script: String, arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Harness.packageRoot + "/" + script] + arguments
        let output = Pipe()
        process.standardOutput = output
        // Kept open for the life of this process: the server stops when it reads end of file.
        process.standardInput = lifeline
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            let said = String(decoding: line, as: UTF8.self)
            throw NSError(domain: "LocalServer", code: 1,
                          userInfo: [NSLocalizedDescriptionKey: "\(script) did not print its port" + (said.isEmpty ? "" : ": \(said)")])
        }
        self.port = port
        LocalServer.register(self)
    }

    func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)\(path)")! }

    nonisolated(unsafe) private static var running: [LocalServer] = []
    private static let lock = NSLock()

    private static func register(_ server: LocalServer) {
        lock.lock()
        if running.isEmpty { atexit { LocalServer.stopAll() } }
        running.append(server)
        lock.unlock()
    }

    static func stopAll() {
        lock.lock()
        for server in running where server.process.isRunning { server.process.terminate() }
        running.removeAll()
        lock.unlock()
    }

    /// The time-stamp authority of Tests/Servers/tsa-server.py.
    static let tsa: LocalServer? = try? LocalServer(script: "Tests/Servers/tsa-server.py", arguments: [Harness.fixtures])

    /// The OCSP responders and CRL server of Tests/Servers/revocation-server.py, on the fixed ports
    /// the certificates of Fixtures/netpki name (18780-18783).
    static let revocation: Result<LocalServer, Error> = Result { try LocalServer(script: "Tests/Servers/revocation-server.py", arguments: [Harness.fixtures]) }

    /// A port on 127.0.0.1 where nothing listens.
    static func closedPort() -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        close(socket)
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
