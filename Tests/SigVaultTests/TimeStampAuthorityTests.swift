import Foundation
import OpenSSLBridge
@testable import SigVault
import SigVaultValidation
import Testing

/// The TSA client against a real RFC 3161 TSA (`openssl ts -reply` behind Tests/Servers/tsa-server.py)
/// and its misbehaving variants: each refusal names the reason, and the next authority is tried.
@Suite(.serialized) struct TimeStampAuthorityTests {
    static let anchors = TimeStampAcceptanceTests.anchors

    func stamper(_ paths: [String], timeout: TimeInterval = 10) throws -> TimeStamper {
        let server = try #require(LocalServer.tsa, "the local TSA did not start")
        return TimeStamper(authorities: paths.map { HTTPTimeStampAuthority(url: server.url($0), timeout: timeout) }, anchors: Self.anchors)
    }

    @Test func aGrantedAnswerIsKept() throws {
        let imprint = Hasher.digest(Array("root of the hash tree".utf8), .sha256)
        let outcome = try stamper(["/tsa"]).timeStamp(imprint: imprint, algorithm: .sha256)
        let token = try #require(outcome.token, "\(outcome.refusals)")
        #expect(token.imprint == imprint && outcome.refusals.isEmpty)
        #expect(abs(token.genTime.timeIntervalSinceNow) < 300)
    }

    @Test(arguments: [
        ("/garbage", "not a granted RFC 3161 response"),
        ("/rejection", "status is 2, not granted"),
        ("/error", "HTTP status 500"),
        ("/wrong-nonce", "the token's nonce is not the one requested"),
        ("/wrong-imprint", "the token's message imprint is not the one requested"),
        ("/non-tsa", "lacks the critical timeStamping extended key usage"),
    ])
    func badAnswersAreRefusedAndTheNextAuthorityTried(_ path: String, _ reason: String) throws {
        let outcome = try stamper([path, "/tsa"]).timeStamp(imprint: Hasher.digest(Array(path.utf8), .sha512), algorithm: .sha512)
        #expect(outcome.token != nil && outcome.authority?.hasSuffix("/tsa") == true)
        #expect(outcome.refusals.count == 1)
        #expect(outcome.refusals.first?.reason.contains(reason) == true, "\(outcome.refusals)")
    }

    @Test func aSlowOrAbsentAuthorityIsRefusedWithTheReason() throws {
        let server = try #require(LocalServer.tsa)
        let down = HTTPTimeStampAuthority(url: URL(string: "http://127.0.0.1:\(LocalServer.closedPort())/tsa")!, timeout: 5)
        let slow = HTTPTimeStampAuthority(url: server.url("/slow"), timeout: 1)
        let started = Date()
        let outcome = TimeStamper(authorities: [down, slow], anchors: Self.anchors)
            .timeStamp(imprint: Hasher.digest([1], .sha256), algorithm: .sha256)
        #expect(outcome.token == nil)
        #expect(outcome.refusals.map(\.authority) == [down.name, slow.name])
        #expect(outcome.refusals[0].reason.hasPrefix("cannot reach it"), "\(outcome.refusals)")
        #expect(outcome.refusals[1].reason.contains("timed out") || outcome.refusals[1].reason.contains("no answer within"), "\(outcome.refusals[1].reason)")
        #expect(Date().timeIntervalSince(started) < 10)
    }
}
