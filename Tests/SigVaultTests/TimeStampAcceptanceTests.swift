import EvidenceRecords
import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation
import Testing

/// A TSA's answer is kept only if it is granted, chains to the trust anchors with the critical
/// timeStamping EKU, carries the requested imprint and nonce, and its genTime is near the clock.
/// Answers are made by `openssl ts -reply` with the fixture TSA.
@Suite struct TimeStampAcceptanceTests {
    static let anchors = TrustAnchors.certificates(try! Certificate.parseAll([UInt8](try! Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/pki/root.pem")))))

    /// `openssl ts -reply` to `request` with the fixture TSA, now.
    static func reply(to request: TimeStampRequest, in directory: String) throws -> [UInt8] {
        if !FileManager.default.fileExists(atPath: directory + "/serial") {
            try "01\n".write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
        }
        try Data(request.der).write(to: URL(fileURLWithPath: directory + "/request.tsq"))
        let result = try Harness.run("/usr/bin/openssl", ["ts", "-reply", "-config", Harness.packageRoot + "/Tests/Servers/tsa.cnf", "-section", "tsa_config",
                                                          "-queryfile", directory + "/request.tsq",
                                                          "-signer", Harness.fixtures + "/pki/certs/tsa.pem", "-inkey", Harness.fixtures + "/pki/private/tsa.key",
                                                          "-chain", Harness.fixtures + "/pki/certs/intermediate.pem", "-out", directory + "/response.tsr"],
                                     environment: ["TSA_SERIAL": directory + "/serial"])
        try #require(result.exitCode == 0, "\(result.stderr)")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/response.tsr")))
    }

    static func refusal(_ result: Result<TimeStampToken, TimeStampRefusal>) -> String? {
        if case .failure(let refusal) = result { return refusal.reason }
        return nil
    }

    @Test func answersAreCheckedAgainstTheirRequest() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let imprint = Hasher.digest(Array("archive root".utf8), .sha256)
        let request = try TimeStampRequest(imprint: imprint, algorithm: .sha256)
        let response = try Self.reply(to: request, in: directory)

        let accepted = TimeStampAcceptance.check(response: response, for: request, anchors: Self.anchors, now: Date())
        let token = try accepted.get()
        #expect(token.nonce == request.nonce && token.imprint == imprint)

        // The same answer for another request: another nonce, or another imprint.
        let otherNonce = try TimeStampRequest(imprint: imprint, algorithm: .sha256)
        #expect(Self.refusal(TimeStampAcceptance.check(response: response, for: otherNonce, anchors: Self.anchors, now: Date()))
            == "the token's nonce is not the one requested")
        let otherImprint = try TimeStampRequest(imprint: Hasher.digest(Array("other".utf8), .sha256), algorithm: .sha256, nonce: request.nonce)
        #expect(Self.refusal(TimeStampAcceptance.check(response: response, for: otherImprint, anchors: Self.anchors, now: Date()))
            == "the token's message imprint is not the one requested")
        // Not trusted, not near the clock, not a response at all.
        let untrusted = TrustAnchors.certificates(try Certificate.parseAll([UInt8](try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/pki/untrusted-root.pem")))))
        #expect(Self.refusal(TimeStampAcceptance.check(response: response, for: request, anchors: untrusted, now: Date()))?
            .hasPrefix("the token does not verify") == true)
        #expect(Self.refusal(TimeStampAcceptance.check(response: response, for: request, anchors: Self.anchors, now: Date().addingTimeInterval(3600)))?
            .contains("away from the local clock") == true)
        #expect(Self.refusal(TimeStampAcceptance.check(response: Array("<html>busy</html>".utf8), for: request, anchors: Self.anchors, now: Date()))?
            .hasPrefix("not a granted RFC 3161 response") == true)
    }

    /// Amending a token with validation material (before renewal) keeps its signature valid and
    /// makes the material readable from it.
    @Test func amendedTokensStillVerifyAndCarryTheirMaterial() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let request = try TimeStampRequest(imprint: Hasher.digest([7], .sha256), algorithm: .sha256)
        let token = try TimeStampToken(responseOrToken: try Self.reply(to: request, in: directory))
        let crl = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/pki/crl/current/intermediate-2024-06-15.crl")))
        let ocsp = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/pki/ocsp/tsa-good.der")))
        let root = try Certificate.parseAll([UInt8](try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/pki/root.pem"))))[0]
        let amended = try TokenAmendment.adding(certificates: [root.der], crls: [try RevocationList.parseAll(crl)[0].der], ocspResponses: [ocsp], to: token.der)
        #expect(amended != token.der)
        let reread = try TimeStampToken(responseOrToken: amended)
        #expect(reread.imprint == token.imprint && reread.genTime == token.genTime)
        #expect(reread.verifySignature(untrusted: reread.certificates, anchors: Self.anchors).ok)
        #expect(EmbeddedRevocationInfo.ocspResponses(inContentInfo: amended) == [ocsp])
        #expect(try SignedData(bytes: amended).revocationLists.count == 1)
        #expect(try SignedData(bytes: amended).certificates.contains(root))
        // Amending again with the same material changes nothing.
        #expect(try TokenAmendment.adding(certificates: [root.der], crls: [], ocspResponses: [ocsp], to: amended) == amended)
    }

    @Test func aTokenFromACertificateWithoutTheCriticalEKUIsRefused() throws {
        let signature = try SignedData(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/cases/twin-noncritical-eku/contract.pdf.p7s"))))
        let der = try #require(signature.describeSigner(0)?.signatureTimeStampTokens.first)
        let token = try TimeStampToken(responseOrToken: der)
        let request = try TimeStampRequest(imprint: token.imprint, algorithm: try #require(token.imprintAlgorithm))
        let refusal = Self.refusal(TimeStampAcceptance.check(response: der, for: request, anchors: Self.anchors, now: token.genTime))
        #expect(refusal?.contains("lacks the critical timeStamping extended key usage") == true, "\(String(describing: refusal))")
    }

    @Test func requestsCarryTheirNonceAndAskForTheCertificate() throws {
        let imprint = Hasher.digest(Array("x".utf8), .sha512)
        let request = try TimeStampRequest(imprint: imprint, algorithm: .sha512, nonce: [0, 0, 0x12, 0x34])
        #expect(request.nonce == [0x12, 0x34])
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(request.der).write(to: URL(fileURLWithPath: directory + "/request.tsq"))
        let text = try Harness.openssl(["ts", "-query", "-in", directory + "/request.tsq", "-text"])
        #expect(text.stdout.contains("Nonce: 0x1234"), "\(text.stdout)")
        #expect(text.stdout.contains("Certificate required: yes"))
        #expect(text.stdout.contains("Hash Algorithm: sha512"))
        #expect(throws: CryptoError.self) { try TimeStampRequest(imprint: [1, 2, 3], algorithm: .sha256) }
    }
}

/// docs/ALGORITHMS.md and the code's sunset table say the same.
@Suite struct AlgorithmTableTests {
    @Test func documentedTableMatchesTheCode() throws {
        let text = try String(contentsOfFile: Harness.packageRoot + "/docs/ALGORITHMS.md", encoding: .utf8)
        func section(_ heading: String) -> [[String]] {
            let parts = text.components(separatedBy: "\n## ")
            guard let part = parts.first(where: { $0.hasPrefix(heading) }) else { return [] }
            return part.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| ---") }.dropFirst()
                .map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        }
        func day(_ date: Date?) -> String { date.map { String(ISOTime.format($0).prefix(10)) } ?? "none" }

        let hashes = section("Hash algorithms SigVault computes")
        #expect(Set(hashes.map { $0[0] }) == Set(HashAlgorithm.allCases.map(\.rawValue)))
        for row in hashes {
            #expect(day(HashAlgorithm(rawValue: row[0]).flatMap(AlgorithmSunsets.sunset(of:))) == row[2], "\(row[0])")
        }
        let digests = section("Digest algorithms")
        var documented: [String: String] = [:]
        for row in digests { for name in row[0].split(separator: ",") { documented[name.trimmingCharacters(in: .whitespaces)] = row[1] } }
        #expect(Set(documented.keys) == Set(AlgorithmSunsets.digests.keys))
        for (name, sunset) in AlgorithmSunsets.digests { #expect(documented[name] == day(sunset), "\(name)") }
        let keys = section("Keys")
        let code = [("RSA", AlgorithmSunsets.rsaKeys), ("DSA", AlgorithmSunsets.dsaKeys), ("EC", AlgorithmSunsets.ecKeys)]
            .flatMap { kind, rows in rows.map { [kind, String($0.bits), day($0.sunset)] } }
        #expect(keys.map { Array($0.prefix(3)) } == code)
    }
}
