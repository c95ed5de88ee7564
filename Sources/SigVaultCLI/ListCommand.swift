import ArgumentParser
import Foundation
import SigVault

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the documents, signers and proven times without extracting.")

    @Argument(help: "The archive.") var archive: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        _ = CLI.makeLogger()
        do {
            let lister = try Lister(archive: archive)
            if json {
                try lister.writeJSON { print($0, terminator: "") }
            } else {
                CLI.line("fingerprint \(lister.fingerprint)")
                try lister.forEachDocument { document in
                    let verdict = document.signed ? [document.packIndication, document.packSubIndication].compactMap { $0 }.joined(separator: "/") : "UNSIGNED"
                    var line = "\(verdict)  \(document.path)"
                    if !document.signers.isEmpty { line += "  signed by \(document.signers.joined(separator: "; "))" }
                    if let time = document.provenTime { line += "  time-stamped \(time)" }
                    CLI.line(line)
                }
            }
        } catch {
            CLI.fail(error)
        }
    }
}
