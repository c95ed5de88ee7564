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
    /// values, with the value computed from the list below added if it is not already there, are
    /// sorted, concatenated and hashed. Returns nil for an empty tree.
    public static func root(of reducedHashtree: [[[UInt8]]], singleValueLists: SingleValueLists, hash: ([UInt8]) -> [UInt8]) -> [UInt8]? {
        var current: [UInt8]?
        for list in reducedHashtree {
            var values = list
            if let current, !values.contains(current) { values.append(current) }
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
                                    hash: ([UInt8]) -> [UInt8]) -> (root: [UInt8], asGroup: Bool)? {
        guard !hashes.isEmpty else { return nil }
        let group = groupHash(hashes, hash: hash)
        guard let tree = reducedHashtree, let first = tree.first, !first.isEmpty else {
            return (group, hashes.count > 1)
        }
        if hashes.allSatisfy(first.contains) {
            return root(of: tree, singleValueLists: singleValueLists, hash: hash).map { ($0, false) }
        }
        if hashes.count > 1, first.contains(group) {
            return root(of: tree, singleValueLists: singleValueLists, hash: hash).map { ($0, true) }
        }
        return nil
    }

    // MARK: Building (§4.2)

    /// A hash tree over `leaves` (one hash per data group, in any order). Each inner node is the
    /// hash of its children's sorted concatenation; children are taken in pairs, and a level with
    /// an odd count ends with a group of three, so no list ever holds a single value (whose
    /// reduction implementations disagree on). Returns the root and, for each leaf, its reduced
    /// hash tree: the first list holds the leaf and its siblings, each next list the siblings of the
    /// node computed from below. A single leaf is its own root, with an empty reduced tree.
    public static func build(leaves: [[UInt8]], hash: ([UInt8]) -> [UInt8]) -> (root: [UInt8], reduced: [[[[UInt8]]]]) {
        precondition(!leaves.isEmpty, "a hash tree needs at least one leaf")
        var level = leaves
        var reduced: [[[[UInt8]]]] = leaves.map { _ in [] }
        // The index, in the current level, of each leaf's ancestor.
        var position = Array(leaves.indices)
        var depth = 0
        while level.count > 1 {
            var groups: [Range<Int>] = []
            var start = 0
            while start < level.count {
                let size = level.count - start == 3 ? 3 : 2
                groups.append(start..<(start + size))
                start += size
            }
            var groupOf = [Int](repeating: 0, count: level.count)
            for (number, members) in groups.enumerated() { for member in members { groupOf[member] = number } }
            for leaf in leaves.indices {
                let at = position[leaf]
                let members = groups[groupOf[at]]
                let list = depth == 0 ? members.map { level[$0] } : members.filter { $0 != at }.map { level[$0] }
                reduced[leaf].append(list.sorted { $0.lexicographicallyPrecedes($1) })
                position[leaf] = groupOf[at]
            }
            level = groups.map { hash(sortedConcatenation($0.map { level[$0] })) }
            depth += 1
        }
        return (level[0], reduced)
    }
}
