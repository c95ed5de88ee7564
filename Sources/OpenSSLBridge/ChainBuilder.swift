internal import COpenSSL
import Foundation

/// Where trust comes from: explicit anchors, or the operating system's store.
public enum TrustAnchors: Sendable {
    case certificates([Certificate])
    case system

    static let systemBundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]

    /// Loads the system bundle as explicit certificates (so chains can name their anchor).
    public static func loadSystem() -> [Certificate] { loadSystemBundle().certificates }

    /// The system bundle used (nil if none was found) and its certificates.
    public static func loadSystemBundle() -> (path: String?, certificates: [Certificate]) {
        for path in systemBundles {
            if let data = FileManager.default.contents(atPath: path),
               let certificates = try? Certificate.parseAll([UInt8](data)) {
                return (path, certificates)
            }
        }
        return (nil, [])
    }

    /// Whether `certificate` is one of the anchors (the system store: whether it is self-issued,
    /// as the store's roots are).
    public func contains(_ certificate: Certificate) -> Bool {
        switch self {
        case .certificates(let list): return list.contains(certificate)
        case .system: return certificate.isSelfIssued
        }
    }
}

/// What a chain is being built for.
public enum ChainPurpose: Sendable {
    /// Any purpose: signer EKU rules are the validation layer's business.
    case any
    /// RFC 3161 time-stamping: OpenSSL checks the critical timeStamping EKU.
    case timeStamping
}

/// The result of building and checking a path from a leaf to a trust anchor.
public struct ChainBuildResult: Sendable {
    /// Leaf first, anchor last. Present when OpenSSL found a path (even one that failed a check).
    public let chain: [Certificate]
    public let ok: Bool
    /// OpenSSL's X509_V_ERR code, for mapping to an ETSI sub-indication.
    public let errorCode: Int
    public let errorText: String
    /// Index in `chain` of the certificate the error concerns.
    public let errorDepth: Int

    public var failure: ChainFailure? {
        guard !ok else { return nil }
        switch Int32(errorCode) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
             X509_V_ERR_CERT_UNTRUSTED, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return .noTrustedPath
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
             X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
            return .signatureFailure
        case X509_V_ERR_INVALID_PURPOSE:
            return .purpose
        default:
            return .constraints
        }
    }
}

public enum ChainFailure: String, Sendable {
    case noTrustedPath, signatureFailure, purpose, constraints
}

public enum ChainBuilder {
    /// Every path worth judging (ETSI EN 319 102-1 §5.6.2.1: a valid path among the candidates
    /// wins, whatever the order of the evidence): the path `build` prefers first, then, for each
    /// certificate of a path found that has twins among `untrusted` (the same subject name and key,
    /// another certificate: a CA re-issued with other dates or serial), the path built without it;
    /// distinct paths only, at most `limit`. Failed builds other than the first are left out.
    public static func candidates(
        leaf: Certificate,
        untrusted: [Certificate],
        anchors: TrustAnchors,
        purpose: ChainPurpose,
        preferValidAt: Date?,
        allowPartialChain: Bool = false,
        limit: Int = 8
    ) -> [ChainBuildResult] {
        let first = build(leaf: leaf, untrusted: untrusted, anchors: anchors, purpose: purpose, at: nil,
                          preferValidAt: preferValidAt, allowPartialChain: allowPartialChain)
        guard first.ok else { return [first] }
        var results = [first]
        var seen: Set<[String]> = [first.chain.map(\.sha256Hex)]
        var tried: Set<Set<String>> = [[]]
        // Breadth first over the sets of certificates left out.
        var queue: [Set<String>] = [[]]
        var builds = 1
        while !queue.isEmpty, results.count < limit, builds < limit * 2 {
            let excluded = queue.removeFirst()
            for result in results {
                for certificate in result.chain.dropFirst() where !excluded.contains(certificate.sha256Hex) {
                    let twins = untrusted.contains { $0.sha256Hex != certificate.sha256Hex && !excluded.contains($0.sha256Hex) && $0.isSameEntity(as: certificate) }
                    guard twins, untrusted.contains(where: { $0.sha256Hex == certificate.sha256Hex }) else { continue }
                    let next = excluded.union([certificate.sha256Hex])
                    guard tried.insert(next).inserted, builds < limit * 2 else { continue }
                    builds += 1
                    let remaining = untrusted.filter { !next.contains($0.sha256Hex) }
                    let other = build(leaf: leaf, untrusted: remaining, anchors: anchors, purpose: purpose, at: nil,
                                      preferValidAt: preferValidAt, allowPartialChain: allowPartialChain)
                    if other.ok, seen.insert(other.chain.map(\.sha256Hex)).inserted { results.append(other) }
                    queue.append(next)
                }
            }
        }
        return Array(results.prefix(limit))
    }

    /// Builds a path for `leaf` through `untrusted` to `anchors` and checks it with OpenSSL.
    /// - Parameters:
    ///   - time: check validity periods at this time; `nil` skips them (the caller then decides
    ///     validity at the proven time itself).
    ///   - preferValidAt: with `time` nil, first look for a path whose certificates are all valid at
    ///     this time (where several issuer certificates match, one with the same name and key but
    ///     another validity, OpenSSL takes the one valid then), and only when there is none build
    ///     without time checks. ETSI EN 319 102-1 §5.6.2.1: the verdict must not depend on which
    ///     matching issuer comes first in the pool.
    public static func build(
        leaf: Certificate,
        untrusted: [Certificate],
        anchors: TrustAnchors,
        purpose: ChainPurpose,
        at time: Date?,
        preferValidAt: Date? = nil,
        allowPartialChain: Bool = false
    ) -> ChainBuildResult {
        if time == nil, let preferValidAt {
            let valid = build(leaf: leaf, untrusted: untrusted, anchors: anchors, purpose: purpose, at: preferValidAt,
                              allowPartialChain: allowPartialChain)
            if valid.ok { return valid }
        }
        guard let store = X509_STORE_new() else {
            return ChainBuildResult(chain: [], ok: false, errorCode: -1, errorText: "out of memory", errorDepth: 0)
        }
        defer { X509_STORE_free(store) }
        switch anchors {
        case .certificates(let list):
            for anchor in list { _ = X509_STORE_add_cert(store, anchor.ref) }
        case .system:
            _ = X509_STORE_set_default_paths(store)
        }
        OpenSSLErrorQueue.clear()
        guard let context = X509_STORE_CTX_new() else {
            return ChainBuildResult(chain: [], ok: false, errorCode: -1, errorText: "out of memory", errorDepth: 0)
        }
        defer { X509_STORE_CTX_free(context) }
        let stack = CertificateStack(untrusted)
        guard X509_STORE_CTX_init(context, store, leaf.ref, stack.ref) == 1 else {
            return ChainBuildResult(chain: [], ok: false, errorCode: -1, errorText: OpenSSLErrorQueue.drain(), errorDepth: 0)
        }
        let parameters = X509_STORE_CTX_get0_param(context)
        var flags = UInt(0)
        if let time {
            X509_VERIFY_PARAM_set_time(parameters, time_t(time.timeIntervalSince1970))
        } else {
            flags |= UInt(X509_V_FLAG_NO_CHECK_TIME)
        }
        // Every anchor is an anchor, self-signed or not (`openssl verify -partial_chain`): a chain
        // ends at the first certificate the user trusts.
        flags |= UInt(X509_V_FLAG_PARTIAL_CHAIN)
        _ = X509_VERIFY_PARAM_set_flags(parameters, flags)
        let purposeID = purpose == .timeStamping ? X509_PURPOSE_TIMESTAMP_SIGN : X509_PURPOSE_ANY
        _ = X509_STORE_CTX_set_purpose(context, purposeID)
        // The context borrows the untrusted stack: keep it alive through the verification.
        let verified = withExtendedLifetime(stack) { X509_verify_cert(context) == 1 }
        let error = Int(X509_STORE_CTX_get_error(context))
        let depth = Int(X509_STORE_CTX_get_error_depth(context))
        var chain: [Certificate] = []
        if let built = X509_STORE_CTX_get1_chain(context) {
            chain = CertificateStack.certificates(in: built)
            sv_sk_X509_pop_free(built)
        }
        OpenSSLErrorQueue.clear()
        let text = verified ? "ok" : String(cString: X509_verify_cert_error_string(Int(error)))
        return ChainBuildResult(chain: chain, ok: verified, errorCode: error, errorText: text, errorDepth: depth)
    }
}
