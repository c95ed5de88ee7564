import Foundation
import Testing

/// One row of Fixtures/conformance.tsv: an ETSI EN 319 102-1 rule's case (issue 8), packed and
/// verified through the binary with its own arguments.
struct ConformanceCase: CustomTestStringConvertible, Sendable {
    let name: String
    let folder: String
    let rule: String
    let indication: String
    let subIndication: String?
    let packArguments: [String]
    let verifyArguments: [String]
    var testDescription: String { "\(name) (rule \(rule))" }

    static let directory = "Fixtures/conformance"

    static let all: [ConformanceCase] = {
        guard let text = try? String(contentsOfFile: Harness.packageRoot + "/Fixtures/conformance.tsv", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 7 else { return nil }
            func words(_ field: String) -> [String] {
                field == "-" ? [] : field.split(separator: " ").map { $0.replacingOccurrences(of: "$C", with: directory) }
            }
            return ConformanceCase(name: fields[0], folder: fields[1], rule: fields[2], indication: fields[3],
                                   subIndication: fields[4] == "-" ? nil : fields[4],
                                   packArguments: words(fields[5]), verifyArguments: words(fields[6]))
        }
    }()

    /// The arguments every case starts from: `defaults` (option, value) pairs, then the row's own.
    /// A row's `--trust` or `--certs` replaces the default one (rule 7 sets the certificates'
    /// order); `--ocsp NONE` drops the default `--ocsp` (whose responses carry the CA's certificate).
    static func withDefaults(_ own: [String], _ defaults: [(String, String)]) -> [String] {
        var own = own
        var dropped: Set<String> = []
        while let index = own.firstIndex(of: "NONE"), index > 0 {
            dropped.insert(own[index - 1])
            own.removeSubrange((index - 1)...index)
        }
        let replaced: Set<String> = Set(["--trust", "--certs"].filter(own.contains)).union(dropped)
        return ([("--trust", "\(directory)/pki/root.pem")] + defaults).filter { !replaced.contains($0.0) }
            .flatMap { [$0.0, $0.1] } + own
    }

    var pack: [String] {
        Self.withDefaults(packArguments, [("--certs", "\(Self.directory)/pki/ca.pem"), ("--crls", "\(Self.directory)/crl/root"),
                                          ("--ocsp", "\(Self.directory)/ocsp/tsa"), ("--crls", "\(Self.directory)/current"),
                                          ("--ocsp", "\(Self.directory)/current"), ("--at", Harness.verifyTime)])
    }

    /// Verification at 2026-06-01 with data fresh then for the TSA and the CA (Fixtures/conformance/current).
    var verify: [String] {
        Self.withDefaults(verifyArguments, [("--crls", "\(Self.directory)/current"), ("--ocsp", "\(Self.directory)/current"),
                                            ("--at", Harness.verifyTime)]) + ["--json"]
    }
}

@Suite struct ConformanceTests {
    @Test func theTableHasEveryRuleWithAPassingCaseAndAFailingTwin() {
        let rules = Dictionary(grouping: ConformanceCase.all, by: \.rule)
        #expect(rules.count >= 4, "\(rules.keys.sorted())")
        for (rule, cases) in rules {
            #expect(cases.contains { $0.indication == "TOTAL_PASSED" }, "rule \(rule) has no passing case")
            #expect(cases.contains { $0.indication != "TOTAL_PASSED" }, "rule \(rule) has no failing twin")
        }
    }

    @Test(arguments: ConformanceCase.all)
    func caseGetsItsVerdict(_ fixture: ConformanceCase) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", "\(ConformanceCase.directory)/cases/\(fixture.folder)", "-o", archive] + fixture.pack)
        #expect(pack.exitCode == (fixture.indication == "TOTAL_PASSED" ? 0 : 2), "pack: \(pack.stdout)\(pack.stderr)")

        let verify = try Harness.sigvault(["verify", archive] + fixture.verify)
        let report = try Harness.json(verify.stdout)
        #expect((report["integrity"] as? [String: Any])?["ok"] as? Bool == true)
        let document = try #require((report["documents"] as? [[String: Any]])?.first { $0["signed"] as? Bool == true })
        #expect(document["indication"] as? String == fixture.indication, "\(document["reason"] ?? "")")
        #expect(document["subIndication"] as? String == fixture.subIndication, "\(document["reason"] ?? "")")
        let exit: Int32 = fixture.indication == "TOTAL_PASSED" ? 0 : fixture.indication == "TOTAL_FAILED" ? 1 : 2
        #expect(verify.exitCode == exit, "\(verify.stderr)")
    }
}
