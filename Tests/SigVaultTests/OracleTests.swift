import Foundation
import OpenSSLBridge
import Testing

/// pyhanko-certvalidator judges the chain, revocation data and moment of every signature, and of
/// every signature time-stamp's TSA at its genTime, of every fixture case (Fixtures/cases.tsv and Fixtures/conformance.tsv), offline, revocation in hard-fail
/// mode; its decision must be ours, or a row of Tests/Oracle/differences.tsv that names the section
/// of the standard deciding it. `make test` installs it in .build/pyhanko (pip, a pinned version).
@Suite struct OracleTests {
    /// One signature's chain question: what we decided, and what the oracle is given.
    struct Question {
        let name: String
        let ours: String
        let request: [String: Any]
    }

    /// A deliberate difference: `case`, signer serial, our decision, pyHanko's, why.
    struct Difference {
        let ours: String
        let oracle: String
    }

    static let python = Harness.packageRoot + "/.build/pyhanko/bin/python"

    static let differences: [String: Difference] = {
        guard let text = try? String(contentsOfFile: Harness.packageRoot + "/Tests/Oracle/differences.tsv", encoding: .utf8) else { return [:] }
        var table: [String: Difference] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 5 else { continue }
            table["\(fields[0])#\(fields[1])"] = Difference(ours: fields[2], oracle: fields[3])
        }
        return table
    }()

    /// Our chain-and-revocation decision, from a signature's verdict; nil when the verdict is not
    /// about the chain (the signature or its signer's certificate failed first).
    static func decision(_ signature: [String: Any]) -> String? {
        guard let indication = signature["indication"] as? String else { return nil }
        if indication == "TOTAL_PASSED" { return "valid" }
        // A signature that waits for its time-stamp's TSA to be shown sound: the verdict is the
        // token's, not the chain's.
        let stamps = signature["timeStamps"] as? [[String: Any]] ?? []
        if signature["subIndication"] as? String == "TRY_LATER", !stamps.contains(where: { $0["valid"] as? Bool == true }),
           stamps.contains(where: { $0["subIndication"] as? String == "TRY_LATER" }) { return nil }
        switch signature["subIndication"] as? String {
        case "REVOKED_NO_POE", "REVOKED_CA_NO_POE": return "revoked"
        case "TRY_LATER": return "no-fresh-revinfo"
        case "NO_CERTIFICATE_CHAIN_FOUND": return "no-path"
        case "OUT_OF_BOUNDS_NO_POE", "NOT_YET_VALID": return "expired"
        default: return nil
        }
    }

    /// Our decision on a token's TSA chain at its genTime, from the statuses the report gives for
    /// that time; nil when the token failed before its chain's revocation was looked at.
    static func tokenDecision(_ stamp: [String: Any], at genTime: String) -> String? {
        let statuses = (stamp["revocation"] as? [[String: Any]] ?? []).filter { $0["at"] as? String == genTime }
        guard !statuses.isEmpty else { return nil }
        let states = statuses.compactMap { $0["status"] as? String }
        if states.contains("revoked") { return "revoked" }
        if states.contains(where: { $0 == "unknown" || $0 == "onHold" }) { return "no-fresh-revinfo" }
        return "valid"
    }

    /// Files under `paths` (each a file or a folder, read recursively).
    static func files(_ paths: [String]) -> [String] {
        paths.flatMap { path -> [String] in
            let full = path.hasPrefix("/") ? path : Harness.packageRoot + "/" + path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) else { return [] }
            guard isDirectory.boolValue else { return [full] }
            let names = (FileManager.default.enumerator(atPath: full)?.allObjects as? [String]) ?? []
            return names.sorted().map { full + "/" + $0 }.filter {
                var sub: ObjCBool = false
                return FileManager.default.fileExists(atPath: $0, isDirectory: &sub) && !sub.boolValue
            }
        }
    }

    static func values(_ arguments: [String], _ option: String) -> [String] {
        arguments.indices.filter { arguments[$0] == option && $0 + 1 < arguments.count }.map { arguments[$0 + 1] }
    }

    /// Packs and verifies `folder` with the arguments given, and asks one question per signature
    /// whose verdict is about its chain: the signer's certificate (as our report names it), every
    /// certificate at hand (pack's and verify's, the signatures' and their tokens'), the CRLs and
    /// OCSP responses given, the anchors, at our best signature time.
    static func questions(case name: String, folder: String, pack: [String], verify: [String], in directory: String) throws -> [Question] {
        let archive = directory + "/\(name).svz"
        _ = try Harness.sigvault(["pack", folder, "-o", archive] + pack)
        let result = try Harness.sigvault(["verify", archive] + verify + ["--json"])
        let report = try Harness.json(result.stdout)
        let documents = try #require(report["documents"] as? [[String: Any]])
        // Every certificate the signatures and their tokens carry, as one PEM bundle.
        var carried: [Certificate] = []
        for file in files([folder]) where [".p7s", ".sig", ".p7m", ".tsr", ".tst"].contains(where: file.hasSuffix) {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            if let token = try? TimeStampToken(responseOrToken: bytes) { carried += token.certificates; continue }
            guard let signed = try? SignedData(bytes: bytes) else { continue }
            carried += signed.certificates
            for index in 0..<signed.signerCount {
                for der in signed.describeSigner(index)?.signatureTimeStampTokens ?? [] {
                    carried += (try? TimeStampToken(responseOrToken: der))?.certificates ?? []
                }
            }
        }
        let given = files(values(pack, "--certs") + values(verify, "--certs"))
        let givenCertificates = given.flatMap { (try? Certificate.parseAll([UInt8](Data(contentsOf: URL(fileURLWithPath: $0))))) ?? [] }
        let bundle = directory + "/\(name)-carried.pem"
        try carried.map { pem($0.der) }.joined().write(toFile: bundle, atomically: true, encoding: .utf8)
        let anchors = files(values(verify, "--trust"))
        let crls = files(values(pack, "--crls") + values(verify, "--crls"))
        let ocsp = files(values(pack, "--ocsp") + values(verify, "--ocsp"))
        let age = values(verify, "--max-revocation-age").first.map { text -> Int in
            let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "y": 365 * 86_400]
            return Int(text.dropLast())! * units[text.last!]!
        }
        var questions: [Question] = []
        for document in documents {
            for signature in document["signatures"] as? [[String: Any]] ?? [] {
                guard let ours = decision(signature), let serial = signature["signerSerial"] as? String,
                      let subject = signature["signer"] as? String, let moment = signature["bestSignatureTime"] as? String else { continue }
                let leaf = try #require((carried + givenCertificates).first { $0.serialHex == serial && $0.subject == subject },
                                        "\(name): the signer's certificate \(subject) (\(serial))")
                let leafPath = directory + "/\(name)-\(serial).pem"
                try pem(leaf.der).write(toFile: leafPath, atomically: true, encoding: .utf8)
                var request: [String: Any] = ["name": "\(name)#\(serial)", "leaf": leafPath, "certs": [bundle] + given,
                                              "anchors": anchors, "crls": crls, "ocsp": ocsp, "moment": moment]
                if let age { request["maxRevocationAge"] = age }
                questions.append(Question(name: "\(name)#\(serial)", ours: ours, request: request))
                // Each time-stamp's TSA chain at its genTime.
                for stamp in signature["timeStamps"] as? [[String: Any]] ?? [] {
                    guard let genTime = stamp["genTime"] as? String, let ours = tokenDecision(stamp, at: genTime),
                          let tsaSerial = (stamp["revocation"] as? [[String: Any]])?.first?["serial"] as? String,
                          let tsa = (carried + givenCertificates).first(where: { $0.serialHex == tsaSerial && $0.subject == stamp["tsa"] as? String })
                    else { continue }
                    let tsaPath = directory + "/\(name)-tsa-\(tsaSerial).pem"
                    try pem(tsa.der).write(toFile: tsaPath, atomically: true, encoding: .utf8)
                    var tsaRequest = request
                    tsaRequest["name"] = "\(name)#tsa-\(tsaSerial)"
                    tsaRequest["leaf"] = tsaPath
                    tsaRequest["moment"] = genTime
                    questions.append(Question(name: "\(name)#tsa-\(tsaSerial)", ours: ours, request: tsaRequest))
                }
            }
        }
        return questions
    }

    static func pem(_ der: [UInt8]) -> String {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n"
    }

    /// Asks pyHanko every question in one run of the oracle.
    static func ask(_ questions: [Question], in directory: String) throws -> [String: (decision: String, detail: String)] {
        let input = try questions.map { String(decoding: try JSONSerialization.data(withJSONObject: $0.request), as: UTF8.self) }
            .joined(separator: "\n")
        let inputPath = directory + "/questions.jsonl"
        try input.write(toFile: inputPath, atomically: true, encoding: .utf8)
        let result = try Harness.run("/bin/sh", ["-c", "exec \"$0\" Tests/Oracle/pyhanko_oracle.py < \"$1\"", python, inputPath])
        #expect(result.exitCode == 0, "the oracle did not run: \(result.stderr)")
        var answers: [String: (String, String)] = [:]
        for line in result.stdout.split(separator: "\n") {
            let object = try Harness.json(String(line))
            answers[object["name"] as? String ?? ""] = (object["decision"] as? String ?? "", object["detail"] as? String ?? "")
        }
        return answers
    }

    @Test func pyHankoAgreesWithEveryChainDecision() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python),
                     "pyhanko-certvalidator is not installed in .build/pyhanko: run make test")
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var questions: [Question] = []
        for fixture in FixtureCase.all where fixture.indication != "UNSIGNED" {
            let pack = Harness.packArguments(extra: fixture.extra) + ["--at", Harness.verifyTime]
            let verify = ["--trust", "Fixtures/pki/root.pem", "--at", Harness.verifyTime]
            questions += try Self.questions(case: fixture.name, folder: "Fixtures/cases/\(fixture.name)", pack: pack, verify: verify, in: directory)
        }
        for fixture in ConformanceCase.all {
            questions += try Self.questions(case: fixture.name, folder: "\(ConformanceCase.directory)/cases/\(fixture.folder)",
                                            pack: fixture.pack, verify: fixture.verify.filter { $0 != "--json" }, in: directory)
        }
        #expect(questions.count >= 40, "every fixture case asks at least one question: \(questions.count)")
        let answers = try Self.ask(questions, in: directory)
        var used = Set<String>()
        for question in questions {
            let answer = try #require(answers[question.name], "no answer for \(question.name)")
            if let difference = Self.differences[question.name] {
                used.insert(question.name)
                #expect(question.ours == difference.ours && answer.decision == difference.oracle,
                        "\(question.name): the table says ours \(difference.ours), pyHanko \(difference.oracle); now ours \(question.ours), pyHanko \(answer.decision): \(answer.detail)")
            } else {
                #expect(question.ours == answer.decision, "\(question.name): ours \(question.ours), pyHanko \(answer.decision): \(answer.detail)")
            }
        }
        #expect(used == Set(Self.differences.keys), "rows of differences.tsv no case asks about: \(Set(Self.differences.keys).subtracting(used).sorted())")
    }
}
