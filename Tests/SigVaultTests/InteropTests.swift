import Foundation
import Testing

/// Our verdicts agree with stock openssl on the restored files: `cms -verify` succeeds where we say
/// TOTAL_PASSED and fails where we fail on signature, chain or validity grounds; revocation verdicts
/// (which `cms -verify` does not check) are cross-checked with `openssl crl -text`; restored
/// time-stamp files pass `openssl ts -verify`.
@Suite struct InteropTests {
    static let signedCases = FixtureCase.all.filter { $0.indication != "UNSIGNED" }

    @Test(arguments: signedCases)
    func opensslAgreesOnRestoredFiles(_ fixture: FixtureCase) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/\(fixture.name)"], extra: fixture.extra, in: directory)
        let target = directory + "/out"
        let restore = try Harness.sigvault(["restore", archive, "--to", target])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        let (_, report) = try Harness.verifyJSON(archive)
        let documents = try #require(report["documents"] as? [[String: Any]])
        var checked = 0
        for document in documents where document["signed"] as? Bool == true {
            let path = try #require(document["path"] as? String)
            let signatures = try #require(document["signatures"] as? [[String: Any]])
            let byFile = Dictionary(grouping: signatures) { $0["file"] as! String }
            for (file, signers) in byFile {
                let worst = signers.max { rank($0) < rank($1) }!
                let indication = worst["indication"] as! String
                let sub = worst["subIndication"] as? String
                let time = (worst["bestSignatureTime"] as? String) ?? Harness.verifyTime
                let epoch = String(Int(try #require(ISO8601DateFormatter().date(from: time)).timeIntervalSince1970))
                var arguments = ["cms", "-verify", "-binary", "-purpose", "any", "-attime", epoch,
                                 "-CAfile", Harness.fixtures + "/pki/root.pem", "-out", "/dev/null",
                                 "-in", target + "/" + file, "-inform", file.hasSuffix(".sig") ? "PEM" : "DER"]
                if !file.hasSuffix(".p7m") { arguments += ["-content", target + "/" + path] }
                let openssl = try Harness.openssl(arguments)
                let evidence = target + "/.sigvault-evidence/" + path
                switch (indication, sub) {
                case ("TOTAL_PASSED", _):
                    #expect(openssl.exitCode == 0, "\(fixture.name) \(file): \(openssl.stderr)")
                case (_, "REVOKED_NO_POE"?):
                    #expect(openssl.exitCode == 0, "\(file): cms -verify does not check revocation")
                    let serial = try #require(worst["signerSerial"] as? String)
                    #expect(try crlTexts(evidence).contains { $0.contains("Serial Number: \(serial.uppercased())") },
                            "\(file): no stored CRL lists serial \(serial)")
                case (_, "TRY_LATER"?):
                    // No stored CRL was issued inside [best signature time, the signer's expiry]: each is
                    // older than the signature, or newer than the certificate (and may have dropped it).
                    #expect(openssl.exitCode == 0)
                    let best = ISO8601DateFormatter().date(from: time)!
                    let validity = worst["certificateValidity"] as? [String: Any]
                    let notAfter = (validity?["notAfter"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) } ?? .distantFuture
                    let updates = try crlTexts(evidence).compactMap(lastUpdate)
                    #expect(!updates.isEmpty && updates.allSatisfy { $0 < best || $0 > notAfter }, "\(updates)")
                default:
                    #expect(openssl.exitCode != 0, "\(fixture.name) \(file): openssl accepted what we call \(indication)/\(sub ?? "-")")
                }
                checked += 1
            }
        }
        #expect(checked > 0)
        for token in try restoredFiles(target, suffixes: [".tsr", ".tst"]) {
            let data = String(token.dropLast(4))
            let verify = try Harness.openssl(["ts", "-verify", "-in", token, "-data", data, "-CAfile", Harness.fixtures + "/pki/root.pem",
                                               "-untrusted", Harness.fixtures + "/pki/certs/intermediate.pem"]
                                              + (token.hasSuffix(".tst") ? ["-token_in"] : []))
            #expect(verify.exitCode == 0, "\(token): \(verify.stderr)")
        }
    }

    private func rank(_ signature: [String: Any]) -> Int {
        switch signature["indication"] as? String {
        case "TOTAL_FAILED": return 2
        case "INDETERMINATE": return 1
        default: return 0
        }
    }

    private func restoredFiles(_ root: String, suffixes: [String]) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        return enumerator.compactMap { $0 as? String }
            .filter { name in !name.hasPrefix(".sigvault-evidence") && suffixes.contains { name.hasSuffix($0) } }
            .map { root + "/" + $0 }
    }

    private func crlTexts(_ evidence: String) throws -> [String] {
        let folder = evidence + "/crls"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return try names.map { try Harness.openssl(["crl", "-inform", "DER", "-in", folder + "/" + $0, "-noout", "-text"]).stdout }
    }

    private func lastUpdate(_ text: String) -> Date? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains("Last Update:") }) else { return nil }
        let value = line.components(separatedBy: "Last Update:").last!.trimmingCharacters(in: .whitespaces)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy 'GMT'"
        return formatter.date(from: value.replacingOccurrences(of: "  ", with: " "))
    }
}
