/// Whether each archive time-stamp of a record covers what it must (RFC 4998 §5.3): the first of the
/// first chain the data objects, each later one in a chain the previous time-stamp, and the first of
/// each later chain (a hash-tree renewal) the data objects together with the chains before it. The
/// time-stamps themselves (signatures, TSA chains, times) are checked elsewhere.
public enum RecordCoverage {
    /// What one archive time-stamp was checked against.
    public enum Outcome: Equatable, Sendable {
        /// The tree built from what it must cover yields its time-stamp's imprint. `forms` says how
        /// (single-value lists, renewal concatenation, how several data objects appear in the first list).
        case covered(forms: [String])
        /// No data digest with this algorithm was given: nothing can be said.
        case digestUnavailable(algorithm: String)
        /// It does not cover what it must.
        case notCovered(reason: String)
    }

    /// What the checker needs to know about one archive time-stamp's token.
    public struct StampFacts: Sendable {
        /// The hash algorithm of the stamp (its digestAlgorithm, or else its token's imprint algorithm).
        public var algorithm: DigestAlgorithmIdentifier
        /// The token's messageImprint.hashedMessage.
        public var imprint: [UInt8]

        public init(algorithm: DigestAlgorithmIdentifier, imprint: [UInt8]) {
            self.algorithm = algorithm
            self.imprint = imprint
        }
    }

    /// Checks every archive time-stamp of `record`. `facts(chain, stamp)` describes a stamp's token;
    /// `dataHashes(algorithm)` gives the digests of the data objects with that algorithm (nil when
    /// they are not available in it); `hash(algorithm, bytes)` hashes (nil for an unknown algorithm).
    /// Returns one outcome per stamp, chain by chain.
    public static func check(_ record: EvidenceRecord,
                             facts: (Int, Int) -> StampFacts?,
                             dataHashes: (DigestAlgorithmIdentifier) -> [[UInt8]]?,
                             hash: @escaping (DigestAlgorithmIdentifier, [UInt8]) -> [UInt8]?) -> [[Outcome]] {
        var outcomes: [[Outcome]] = []
        for (chainIndex, chain) in record.archiveTimeStampSequence.enumerated() {
            var chainOutcomes: [Outcome] = []
            for (stampIndex, stamp) in chain.archiveTimeStamps.enumerated() {
                guard let fact = facts(chainIndex, stampIndex) else {
                    chainOutcomes.append(.notCovered(reason: "its time-stamp token cannot be read"))
                    continue
                }
                let algorithm = fact.algorithm
                guard hash(algorithm, []) != nil else {
                    chainOutcomes.append(.notCovered(reason: "unknown hash algorithm \(algorithm.oid)"))
                    continue
                }
                let digest: ([UInt8]) -> [UInt8] = { hash(algorithm, $0) ?? [] }
                // The candidate leaf sets, each with a description of the form it assumes.
                var candidates: [(leaves: [[UInt8]], form: String)] = []
                if stampIndex > 0 {
                    candidates.append(([digest(chain.archiveTimeStamps[stampIndex - 1].timeStamp)], "time-stamp renewal"))
                } else {
                    guard let data = dataHashes(algorithm), !data.isEmpty else {
                        chainOutcomes.append(.digestUnavailable(algorithm: algorithm.oid))
                        continue
                    }
                    if chainIndex == 0 {
                        candidates.append((data, "initial"))
                    } else {
                        guard let previous = try? record.sequenceDER(chains: chainIndex) else {
                            chainOutcomes.append(.notCovered(reason: "the previous chains cannot be encoded"))
                            continue
                        }
                        let chainsHash = digest(previous)
                        for form in HashTree.RenewalConcatenation.allCases {
                            let leaves = data.map { HashTree.renewedLeaf($0, previousChains: chainsHash, form: form, hash: digest) }
                            candidates.append((leaves, "hash-tree renewal, \(form.rawValue) concatenation"))
                        }
                    }
                }
                var matched: [String]?
                var sawLeaf = false
                search: for candidate in candidates {
                    for (lists, listed) in HashTree.SingleValueLists.allCases.flatMap({ lists in [false, true].map { (lists, $0) } }) {
                        guard let (root, asGroup) = HashTree.coveringRoot(of: candidate.leaves, reducedHashtree: stamp.reducedHashtree,
                                                                          singleValueLists: lists, computedMayBeListed: listed,
                                                                          hash: digest) else { continue }
                        sawLeaf = true
                        if root == fact.imprint {
                            var forms = [candidate.form]
                            if candidate.leaves.count > 1 { forms.append(asGroup ? "group hash in the first list" : "data objects in the first list") }
                            if containsSingleValueList(stamp.reducedHashtree) { forms.append("single-value lists \(lists == .hashed ? "hashed" : "carried up")") }
                            if listed { forms.append("computed values listed") }
                            matched = forms
                            break search
                        }
                    }
                }
                if let matched {
                    chainOutcomes.append(.covered(forms: matched))
                } else if !sawLeaf {
                    chainOutcomes.append(.notCovered(reason: stampIndex > 0
                        ? "the hash of the previous time-stamp is not in its reduced hash tree"
                        : "the hash of the data is not in its reduced hash tree"))
                } else {
                    chainOutcomes.append(.notCovered(reason: "its hash tree does not lead to the hash its time-stamp carries"))
                }
            }
            outcomes.append(chainOutcomes)
        }
        return outcomes
    }

    /// Whether walking the tree would meet a list of one value (where the two conventions differ).
    private static func containsSingleValueList(_ tree: [[[UInt8]]]?) -> Bool {
        guard let tree, !tree.isEmpty else { return false }
        return tree.first!.count == 1 || tree.dropFirst().contains { $0.isEmpty }
    }
}
