import ArgumentParser
import Foundation
import SigVault
import SigVaultRepository

struct ExpiryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expiry", abstract: "List the certificates and the evidence that will run out, and what to do.")

    @Argument(help: "Archives, and certificate files or folders (PEM, DER or PKCS#12).") var inputs: [String] = []
    @Option(help: "A repository: every archive it holds (default: $SIGVAULT_REPOSITORY when no input is given).") var repo: String?
    @Option(help: "What runs out within this window is due, <n>(s|m|h|d|y).") var within = "60d"
    @Option(help: "Count from this ISO 8601 time instead of now.") var at: String?
    @Option(help: "A file whose first line is the PKCS#12 password.") var passwordFile: String?
    @Option(help: "Trust anchors for building TSA chains.") var trust: [String] = []
    @Flag(help: "Also list what runs out after the window.") var all = false
    @Flag(help: "Print JSON (every item, with its status).") var json = false

    func run() throws {
        do {
            var options = ExpiryOptions()
            options.within = try CLI.parseDuration(within, option: "--within")
            options.withinText = within
            options.at = try CLI.parseTime(at)
            options.trust = trust
            if let passwordFile {
                guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                    throw SigVaultError(.inputMissing, "\(passwordFile): cannot read the password file")
                }
                options.password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            }
            for input in inputs {
                var isFolder: ObjCBool = false
                guard FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) else {
                    throw SigVaultError(.inputMissing, "\(input): no such file or folder")
                }
                if !isFolder.boolValue, Self.isArchive(input) { options.archives.append(input) } else { options.certificates.append(input) }
            }
            if let path = repo ?? (inputs.isEmpty ? ProcessInfo.processInfo.environment[Repository.environmentVariable] : nil) {
                let repository = try Repository(opening: path)
                let stored = try repository.store.list().filter { $0.name.hasSuffix(".svz") }.map { try repository.store.localFile($0.name) }
                options.archives += stored
                options.repositoryArchives = Set(stored)
                options.repository = repository
                options.repositoryPath = path
                if options.trust.isEmpty { options.trust = (repository.config.defaults.trust ?? []).map(repository.resolve) }
            }
            guard !options.archives.isEmpty || !options.certificates.isEmpty else {
                throw SigVaultError(.usage, "expiry: give archives, certificates or --repo")
            }
            let report = try Expiry(options: options).run()
            report.warnings.forEach(CLI.warn)
            if json {
                print(try JSONOutput.text(report))
            } else {
                for item in report.items where all || item.status != "later" {
                    CLI.line("\(item.date)  \(item.status.uppercased().padding(toLength: 6, withPad: " ", startingAt: 0))  \(item.what)")
                    CLI.line("    in \(item.source)\(item.documentCount > 0 ? "; \(item.documentCount) document(s): " + item.documents.joined(separator: ", ") + (item.documentCount > item.documents.count ? ", …" : "") : "")")
                    CLI.line("    \(item.action)")
                }
                let due = report.items.filter { $0.status == "due" }.count, lapsed = report.items.filter { $0.status == "lapsed" }.count
                let later = report.items.count - due - lapsed
                CLI.line("\(lapsed) lapsed, \(due) due within \(within) of \(report.at), \(later) later\(all || later == 0 ? "" : " (--all lists them)")")
            }
            if report.exitCode != 0 { Foundation.exit(report.exitCode) }
        } catch {
            CLI.fail(error)
        }
    }

    /// An archive ends with the trailer's skippable frame (magic 5c 2a 4d 18, 168 bytes from the end).
    static func isArchive(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let end = try? handle.seekToEnd(), end >= 168, (try? handle.seek(toOffset: end - 168)) != nil,
              let magic = try? handle.read(upToCount: 4) else { return false }
        return [UInt8](magic) == [0x5c, 0x2a, 0x4d, 0x18]
    }
}
