import Foundation
import Testing

/// Runs the built `sigvault` binary and other tools; locates the fixtures.
enum Harness {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let fixtures = packageRoot + "/Fixtures"
    static let verifyTime = "2026-06-01T00:00:00Z"

    static let binary: String = {
        for candidate in [".build/debug/sigvault", ".build/x86_64-unknown-linux-gnu/debug/sigvault", ".build/release/sigvault"] {
            let path = packageRoot + "/" + candidate
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot + "/.build/debug/sigvault"
    }()

    struct Result {
        let exitCode: Int32
        let stdout: String
        let stderr: String
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], cwd: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = URL(fileURLWithPath: cwd ?? packageRoot)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a full pipe cannot block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(exitCode: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func sigvault(_ arguments: [String], cwd: String? = nil, environment: [String: String] = [:]) throws -> Result {
        try run(binary, arguments, cwd: cwd, environment: environment)
    }

    static func openssl(_ arguments: [String], cwd: String? = nil) throws -> Result { try run("/usr/bin/openssl", arguments, cwd: cwd) }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "sigvault-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let defaultPackArguments: [String: String] = [
        "--trust": "Fixtures/pki/root.pem", "--certs": "Fixtures/pki/certs",
        "--crls": "Fixtures/pki/crl/current", "--ocsp": "Fixtures/pki/ocsp",
    ]

    /// Pack arguments for a case: its extra args replace the defaults of the same name; NONE drops one.
    static func packArguments(extra: String) -> [String] {
        var options = defaultPackArguments
        let words = extra == "-" ? [] : extra.split(separator: " ").map(String.init)
        var index = 0
        while index + 1 < words.count {
            options[words[index]] = words[index + 1]
            index += 2
        }
        return options.sorted { $0.key < $1.key }.flatMap { $0.value == "NONE" ? [] : [$0.key, $0.value] }
    }

    static func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any])
    }

    /// Packs `inputs` into a new archive in `directory`.
    static func pack(_ inputs: [String], extra: String = "-", in directory: String, name: String = "a.svz") throws -> (String, Result) {
        let archive = directory + "/" + name
        let result = try sigvault(["pack"] + inputs + packArguments(extra: extra) + ["--at", verifyTime, "-o", archive])
        return (archive, result)
    }

    static func verifyJSON(_ archive: String, at: String = verifyTime) throws -> (Result, [String: Any]) {
        let result = try sigvault(["verify", archive, "--trust", "Fixtures/pki/root.pem", "--at", at, "--json"])
        return (result, try json(result.stdout))
    }

    static func flipByte(_ path: String, at offset: Int) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let byte = try #require(try handle.read(upToCount: 1)).first!
        try handle.seek(toOffset: UInt64(offset))
        handle.write(Data([byte ^ 0x01]))
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }
}

/// One row of Fixtures/cases.tsv.
struct FixtureCase: CustomTestStringConvertible, Sendable {
    let name: String
    let indication: String
    let subIndication: String?
    let extra: String
    var testDescription: String { name }

    /// Fixtures/cases.tsv, every row. A missing or short table is a crash here, not a parameterised
    /// test that runs zero cases and passes.
    static let all: [FixtureCase] = {
        guard let text = try? String(contentsOfFile: Harness.fixtures + "/cases.tsv", encoding: .utf8) else {
            fatalError("Fixtures/cases.tsv cannot be read: the verdict tests would run no case")
        }
        let rows = text.split(separator: "\n").dropFirst().map { line -> FixtureCase in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 5 else { fatalError("Fixtures/cases.tsv: a row with \(fields.count) fields: \(line)") }
            return FixtureCase(name: fields[0], indication: fields[2], subIndication: fields[3] == "-" ? nil : fields[3], extra: fields[4])
        }
        guard rows.count >= 10 else { fatalError("Fixtures/cases.tsv holds \(rows.count) cases; the fixtures have more") }
        return rows
    }()
}
