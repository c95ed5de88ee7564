import Foundation
import Testing
@testable import SigVault

/// Issue 10, expiry monitoring: what runs out, sorted by date, with what to do; exit 0 (nothing
/// due), 2 (due within the window), 1 (lapsed).
@Suite struct ExpiryTests {
    static let signer = Harness.fixtures + "/pki/certs/signer-expired.pem"   // valid until 2024-06-30T23:59:59Z

    @Test func certificatesGivenDirectly() throws {
        let lapsed = try Harness.sigvault(["expiry", Self.signer, "--at", "2026-06-01T00:00:00Z"])
        #expect(lapsed.exitCode == 1, "\(lapsed.stdout)")
        #expect(lapsed.stdout.contains("2024-06-30T23:59:59Z  LAPSED  certificate CN=Erin Expired"), "\(lapsed.stdout)")
        let due = try Harness.sigvault(["expiry", Self.signer, "--at", "2024-06-01T00:00:00Z", "--within", "60d", "--json"])
        #expect(due.exitCode == 2, "\(due.stdout)")
        let items = try Harness.json(due.stdout)["items"] as? [[String: Any]] ?? []
        #expect(items.first?["status"] as? String == "due" && items.first?["kind"] as? String == "certificate", "\(items)")
        #expect((items.first?["action"] as? String)?.contains("1 to 2 months before") == true)
        let later = try Harness.sigvault(["expiry", Self.signer, "--at", "2024-01-01T00:00:00Z", "--within", "60d"])
        #expect(later.exitCode == 0 && later.stdout.contains("0 lapsed, 0 due within 60d of 2024-01-01T00:00:00Z, 1 later"), "\(later.stdout)")
    }

    /// The organisation's signing certificate as PKCS#12, modern (AES) and legacy (RC2/3DES, which
    /// needs OpenSSL's legacy provider), with the password from a file.
    @Test(arguments: [false, true]) func pkcs12WithAPasswordFile(_ legacy: Bool) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let p12 = directory + "/signer.p12"
        let made = try Harness.openssl(["pkcs12", "-export", "-in", Self.signer, "-inkey", Harness.fixtures + "/pki/private/signer-expired.key",
                                        "-passout", "pass:s3cret", "-out", p12] + (legacy ? ["-legacy"] : []))
        #expect(made.exitCode == 0, "\(made.stderr)")
        try Data("s3cret\n".utf8).write(to: URL(fileURLWithPath: directory + "/password"))
        let result = try Harness.sigvault(["expiry", p12, "--password-file", directory + "/password", "--at", "2024-06-01T00:00:00Z"])
        #expect(result.exitCode == 2 && result.stdout.contains("DUE     certificate CN=Erin Expired"), "\(result.stdout)\(result.stderr)")
        let without = try Harness.sigvault(["expiry", p12])
        #expect(without.exitCode == 65 && without.stderr.contains("needs --password-file"), "\(without.stderr)")
        try Data("wrong\n".utf8).write(to: URL(fileURLWithPath: directory + "/password"))
        let wrong = try Harness.sigvault(["expiry", p12, "--password-file", directory + "/password"])
        #expect(wrong.exitCode == 65, "\(wrong.stderr)")
    }

    /// An archive without an archive time-stamp: its signature time-stamps protect the provable
    /// signatures until their TSA chain runs out (2099 for the fixture TSA).
    @Test func signatureTimeStampsOfAnArchiveWithoutArchiveTimeStamp() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try Harness.pack(["Fixtures/cases/expired-timestamped"], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let now = try Harness.sigvault(["expiry", archive, "--at", "2026-06-01T00:00:00Z", "--json"])
        #expect(now.exitCode == 0, "\(now.stdout)")
        let items = try Harness.json(now.stdout)["items"] as? [[String: Any]] ?? []
        #expect(items.count == 1 && items.first?["kind"] as? String == "signature-time-stamps" && items.first?["status"] as? String == "later", "\(items)")
        #expect(items.first?["documents"] as? [String] == ["Fixtures/cases/expired-timestamped/contract.pdf"])
        let soon = try Harness.sigvault(["expiry", archive, "--at", "2099-11-15T00:00:00Z"])
        #expect(soon.exitCode == 2 && soon.stdout.contains("give these documents an archive time-stamp before 2099-12-31T23:59:59Z"), "\(soon.stdout)")
        let gone = try Harness.sigvault(["expiry", archive, "--at", "2100-01-02T00:00:00Z"])
        #expect(gone.exitCode == 1, "\(gone.stdout)")
    }
}
