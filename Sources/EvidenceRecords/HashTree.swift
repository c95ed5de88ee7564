/// The hash-tree arithmetic of RFC 4998 §4.2–§4.3 and §5.2–§5.3, with the hash function passed in
/// (this module does no cryptography of its own).
public enum HashTree {
    /// How a list of hash values is reduced to its parent: §4.2 step 4 hashes the binary-sorted
    /// concatenation; for a list holding a single value, implementations differ on whether it is
    /// hashed again or carried up unchanged, and records of both kinds exist.
    public enum SingleValueLists: String, Sendable, CaseIterable {
        case hashed
        case carriedUp
    }

    /// How a hash-tree renewal combines a data object's new hash `h` with the hash `ha` of the
    /// previous ArchiveTimeStampSequence (§5.2 step 4): `h ‖ ha` as written (unsorted, what
    /// existing records use), or the two sorted in binary ascending order.
    public enum RenewalConcatenation: String, Sendable, CaseIterable {
        case unsorted
        case sorted
    }

    /// The binary-ascending concatenation of `values`.
    public static func sortedConcatenation(_ values: [[UInt8]]) -> [UInt8] {
        values.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 }
    }

    /// The hash a data group of several objects contributes as one leaf (§4.2 step 3); a group of
    /// one is its object's hash.
    public static func groupHash(_ hashes: [[UInt8]], hash: ([UInt8]) -> [UInt8]) -> [UInt8] {
        hashes.count == 1 ? hashes[0] : hash(sortedConcatenation(hashes))
    }

    /// The leaf a data object's hash `h` becomes after hash-tree renewals: `H(h ‖ ha)`.
    public static func renewedLeaf(_ dataHash: [UInt8], previousChains: [UInt8], form: RenewalConcatenation,
                                   hash: ([UInt8]) -> [UInt8]) -> [UInt8] {
        switch form {
        case .unsorted: return hash(dataHash + previousChains)
        case .sorted: return hash(sortedConcatenation([dataHash, previousChains]))
        }
    }

    /// Walks a reduced hash tree from its first (leaf) list to the root (§4.3 step 3): each list's
    /// values, with the value computed from the list below added (§4.3: it "MUST become a member of
    /// the next higher list"), are sorted, concatenated and hashed. With `computedMayBeListed`, a
    /// list that already holds the computed value is taken as it is (for records that list it).
    /// Returns nil for an empty tree.
    public static func root(of reducedHashtree: [[[UInt8]]], singleValueLists: SingleValueLists, computedMayBeListed: Bool = false,
                            hash: ([UInt8]) -> [UInt8]) -> [UInt8]? {
        var current: [UInt8]?
        for list in reducedHashtree {
            var values = list
            if let current, !(computedMayBeListed && values.contains(current)) { values.append(current) }
            guard !values.isEmpty else { return nil }
            current = values.count == 1 && singleValueLists == .carriedUp ? values[0] : hash(sortedConcatenation(values))
        }
        return current
    }

    /// Whether the leaves `hashes` (one data object each, or the objects of one data group) are
    /// covered by an archive time-stamp whose reduced hash tree is `reducedHashtree` (nil or empty:
    /// the time-stamp is over the leaf itself), and if so the root the tree yields.
    ///
    /// The objects are covered either as separate leaves of the first list, or as one data group
    /// whose hash (§4.2 step 3) is in the first list.
    public static func coveringRoot(of hashes: [[UInt8]], reducedHashtree: [[[UInt8]]]?, singleValueLists: SingleValueLists,
                                    computedMayBeListed: Bool = false, hash: ([UInt8]) -> [UInt8]) -> (root: [UInt8], asGroup: Bool)? {
        guard !hashes.isEmpty else { return nil }
        let group = groupHash(hashes, hash: hash)
        guard let tree = reducedHashtree, let first = tree.first, !first.isEmpty else {
            return (group, hashes.count > 1)
        }
        if hashes.allSatisfy(first.contains) {
            return root(of: tree, singleValueLists: singleValueLists, computedMayBeListed: computedMayBeListed, hash: hash).map { ($0, false) }
        }
        if hashes.count > 1, first.contains(group) {
            return root(of: tree, singleValueLists: singleValueLists, computedMayBeListed: computedMayBeListed, hash: hash).map { ($0, true) }
        }
        return nil
    }

    // MARK: Building (§4.2)

    /// The complete tree over `leaves`, level by level (level 0 = the leaves, the last level = the
    /// root alone). It is binary: nodes are taken in pairs, and a level with an odd number of nodes
    /// pairs its last node with a padding node of zero bytes (RFC 4998 §4.2 lets any value fill a
    /// tree; the padding is not stored). Each inner node is the hash of its two children's sorted
    /// concatenation. Every list of a reduced tree therefore holds two values with the one computed
    /// from below, which every verifier reduces the same way (Bouncy Castle's among them, which
    /// reduces longer lists pairwise).
    public struct Levels: Sendable, Equatable {
        public let levels: [[[UInt8]]]

        public init(leaves: [[UInt8]], hash: ([UInt8]) -> [UInt8]) {
            precondition(!leaves.isEmpty, "a hash tree needs at least one leaf")
            let padding = [UInt8](repeating: 0, count: leaves[0].count)
            var levels = [leaves]
            while levels.last!.count > 1 {
                let level = levels.last!
                levels.append(stride(from: 0, to: level.count, by: 2).map { index in
                    hash(sortedConcatenation([level[index], index + 1 < level.count ? level[index + 1] : padding]))
                })
            }
            self.levels = levels
        }

        /// Levels as stored (e.g. read back from an archive); nil unless they have the shape of
        /// such a tree: each level half its child level (rounded up), ending with one root.
        public init?(stored levels: [[[UInt8]]]) {
            guard let first = levels.first, !first.isEmpty, levels.last?.count == 1 else { return nil }
            for (below, above) in zip(levels, levels.dropFirst()) where (below.count + 1) / 2 != above.count || below.count == 1 { return nil }
            self.levels = levels
        }

        public var root: [UInt8] { levels.last![0] }

        /// The reduced hash tree for leaf `index` (RFC 4998 §4.2), each list sorted. When the leaf
        /// is a data group of several objects (`objects`: their hashes, the leaf being the hash of
        /// their sorted concatenation), the first list holds those objects and the second the leaf's
        /// sibling, as RFC 4998 §4.2 and Bouncy Castle build it; otherwise the first list holds the
        /// leaf and its sibling. Each next list holds the sibling of the node computed from below.
        /// Empty for a tree of one leaf of one object.
        public func reduced(forLeaf index: Int, objects: [[UInt8]] = []) -> [[[UInt8]]] {
            let sort: ([[UInt8]]) -> [[UInt8]] = { $0.sorted { $0.lexicographicallyPrecedes($1) } }
            var lists: [[[UInt8]]] = objects.count > 1 ? [sort(objects)] : []
            var at = index
            for (depth, level) in levels.dropLast().enumerated() {
                let sibling = (at ^ 1) < level.count ? level[at ^ 1] : [UInt8](repeating: 0, count: level[at].count)
                lists.append(depth == 0 && objects.count <= 1 ? sort([level[at], sibling]) : [sibling])
                at /= 2
            }
            return lists
        }
    }

    /// A tree over `leaves` with, for each leaf, its reduced hash tree (see `Levels`).
    public static func build(leaves: [[UInt8]], hash: ([UInt8]) -> [UInt8]) -> (root: [UInt8], reduced: [[[[UInt8]]]]) {
        let tree = Levels(leaves: leaves, hash: hash)
        return (tree.root, leaves.indices.map { tree.reduced(forLeaf: $0) })
    }
}
