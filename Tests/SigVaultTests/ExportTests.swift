import Foundation
import SigVaultFormat
import Testing

/// `sigvault export`: the bundle, its three reports and VERIFY.sh, checked with stock openssl on
/// every fixture case, on renewed version 2 archives, and on bundles an attacker changed.
@Suite struct ExportTests {
    static let root = Harness.fixtures + "/pki/root.pem"

    /// Packs a case as the verdict tests do and exports each of its documents.
    struct Exported {
        let directory: String
        let archive: String
        /// Per document: its verify JSON entry and the bundle folder.
        var bundles: [(document: [String: Any], folder: String, export: Harness.Result)] = []
    }

    static func export(_ archive: String, _ document: String, to folder: String, _ extra: [String] = []) throws -> Harness.Result {
        try Harness.sigvault(["export", archive, document, "--to", folder, "--trust", "Fixtures/pki/root.pem", "--at", Harness.verifyTime] + extra)
    }

    static func verifyScript(_ folder: String, anchor: String? = root, environment: [String: String] = [:]) throws -> Harness.Result {
        try Harness.run("/bin/sh", ["VERIFY.sh"] + (anchor.map { [$0] } ?? []), cwd: folder, environment: environment)
    }

    static func report(_ folder: String) throws -> [String: Any] {
        try Harness.json(try String(contentsOfFile: folder + "/report.json", encoding: .utf8))
    }

    static func expectedExit(_ indication: String) -> Int32 {
        switch indication { case "TOTAL_FAILED": 1; case "INDETERMINATE": 2; default: 0 }
    }

    /// Every document of every fixture case: the report says what verify says, and VERIFY.sh,
    /// recomputing everything with openssl from the trust anchor down, agrees and exits accordingly.
    @Test(arguments: FixtureCase.all)
    func everyFixtureDocumentExportsABundleWhoseScriptAgrees(_ fixture: FixtureCase) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try Harness.pack(["Fixtures/cases/\(fixture.name)"], extra: fixture.extra, in: directory)
        try #require(pack.exitCode <= 2, "\(pack.stderr)")
        let (_, verify) = try Harness.verifyJSON(archive)
        let documents = try #require(verify["documents"] as? [[String: Any]])
        try #require(!documents.isEmpty)
        for (number, document) in documents.enumerated() {
            let path = try #require(document["path"] as? String)
            let indication = document["indication"] as? String ?? "UNSIGNED"
            let sub = document["subIndication"] as? String
            let folder = directory + "/bundle-\(number)"
            let export = try Self.export(archive, path, to: folder)
            #expect(export.exitCode == Self.expectedExit(indication), "\(path): \(export.stdout)\(export.stderr)")
            let report = try Self.report(folder)
            let reported = try #require(report["document"] as? [String: Any])
            #expect(reported["indication"] as? String == indication, "\(path)")
            #expect(reported["subIndication"] as? String == sub, "\(path)")
            // The document is byte-identical to the fixture.
            let file = try #require(reported["file"] as? String)
            #expect(FileManager.default.contentsEqual(atPath: folder + "/" + file, andPath: Harness.packageRoot + "/" + path), "\(file)")
            let script = try Self.verifyScript(folder)
            #expect(script.exitCode == Self.expectedExit(indication), "\(path): \(script.stdout)\(script.stderr)")
            #expect(script.stdout.contains("This agrees with the report."), "\(path): \(script.stdout)")
            #expect(!script.stdout.contains("WARNING: no trust anchor given"))
            let expected = sub.map { "\(indication)/\($0)" } ?? indication
            #expect(script.stdout.contains("Result: \(expected) (the report says \(expected))"), "\(path): \(script.stdout)")
        }
    }

    /// The report's content: what the issue asks every statement to name, in all three forms.
    @Test func theReportNamesTheFilesFingerprintsAndAnchorsInThreeForms() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/revoked-after"], in: directory)
        let folder = directory + "/out"
        let export = try Self.export(archive, "Fixtures/cases/revoked-after/purchase-order.pdf", to: folder, ["--tz", "Asia/Shanghai"])
        #expect(export.exitCode == 0, "\(export.stderr)")
        let report = try Self.report(folder)
        let signer = try #require((report["signers"] as? [[String: Any]])?.first)
        let certificate = try #require(signer["certificate"] as? [String: Any])
        let fingerprint = try #require(certificate["sha256"] as? String)
        let serial = try #require(certificate["serial"] as? String)
        let claimed = try #require(signer["claimedSigningTime"] as? [String: Any])
        #expect((claimed["local"] as? String)?.hasSuffix("+08:00") == true, "\(claimed)")
        #expect((claimed["utc"] as? String)?.hasSuffix("Z") == true)
        // The signer's certificate file is the one the signature names (openssl agrees).
        let certificateFile = try #require(certificate["file"] as? String)
        let opensslFingerprint = try Harness.openssl(["x509", "-in", folder + "/" + certificateFile, "-noout", "-fingerprint", "-sha256"]).stdout
        #expect(opensslFingerprint.replacingOccurrences(of: ":", with: "").lowercased().contains(fingerprint))
        let anchors = try #require(report["trustAnchors"] as? [[String: Any]])
        let anchor = try #require(anchors.first?["sha256"] as? String)
        let rootFingerprint = try Harness.openssl(["x509", "-in", Self.root, "-noout", "-fingerprint", "-sha256"]).stdout
        #expect(rootFingerprint.replacingOccurrences(of: ":", with: "").lowercased().contains(anchor))
        #expect((report["trustStatement"] as? String)?.contains("proves nothing by itself") == true)
        #expect((report["policy"] as? String)?.contains("docs/CONFORMANCE.md") == true)
        #expect((report["generator"] as? String)?.hasPrefix("sigvault ") == true)
        // Every statement names the files that prove it and an indication; every file it cites exists.
        let timeline = try #require(report["timeline"] as? [[String: Any]])
        #expect(timeline.count >= 3)
        var cited = Set<String>()
        for statement in timeline {
            #expect(["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"].contains { (statement["indication"] as? String)?.hasPrefix($0) == true })
            let files = try #require(statement["files"] as? [String])
            #expect(!files.isEmpty)
            cited.formUnion(files)
        }
        for file in cited { #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file)") }
        #expect(timeline.contains { ($0["text"] as? String)?.contains("not revoked") == true })
        let text = try String(contentsOfFile: folder + "/report.txt", encoding: .utf8)
        let html = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
        let documentHash = try #require((report["document"] as? [String: Any])?["sha256"] as? String)
        for form in [text, html] {
            #expect(form.contains(documentHash) && form.contains(fingerprint) && form.contains(serial) && form.contains(anchor))
            #expect(form.contains("+08:00"))
            for file in cited { #expect(form.contains(file), "\(file)") }
        }
        #expect(html.contains("Content-Security-Policy") && html.contains("script-src 'none'"))
        #expect(!html.lowercased().contains("<script") && !html.contains("http://") && !html.contains("https://"))
    }

    /// Same inputs, byte-identical reports; another zone changes only the local times.
    @Test func reportsDependOnlyOnTheirInputs() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/expired-timestamped"], in: directory)
        let document = "Fixtures/cases/expired-timestamped/contract.pdf"
        #expect(try Self.export(archive, document, to: directory + "/one").exitCode == 0)
        Thread.sleep(forTimeInterval: 1.1)
        #expect(try Self.export(archive, document, to: directory + "/two").exitCode == 0)
        #expect(try Self.export(archive, document, to: directory + "/zone", ["--tz", "Europe/Berlin"]).exitCode == 0)
        for name in ["report.json", "report.txt", "report.html", "VERIFY.sh", "VERIFY.md"] {
            #expect(FileManager.default.contentsEqual(atPath: directory + "/one/" + name, andPath: directory + "/two/" + name), "\(name)")
        }
        let zoned = try String(contentsOfFile: directory + "/zone/report.txt", encoding: .utf8)
        #expect(zoned.contains("+01:00") || zoned.contains("+02:00"))
        #expect(!FileManager.default.contentsEqual(atPath: directory + "/one/report.txt", andPath: directory + "/zone/report.txt"))
    }

    /// A target that exists and is not empty is refused and left alone; an unknown document is named.
    @Test func exportNeverOverwritesAndNamesWhatIsMissing() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/unsigned"], in: directory)
        let folder = directory + "/taken"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "keep".write(toFile: folder + "/mine.txt", atomically: true, encoding: .utf8)
        let refused = try Self.export(archive, "Fixtures/cases/unsigned/readme.txt", to: folder)
        #expect(refused.exitCode == 73 && refused.stderr.contains("[output-exists]"), "\(refused.exitCode) \(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["mine.txt"])
        let missing = try Self.export(archive, "no/such.txt", to: directory + "/new")
        #expect(missing.exitCode == 66 && missing.stderr.contains("no document named no/such.txt"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/new"))
        // Nothing is left beside the target either.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["a.svz", "taken"])
    }

    /// A bundle's files changed after export: the script fails and says where.
    @Test func theScriptFailsOnATamperedBundle() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/expired-timestamped"], in: directory)
        let folder = directory + "/out"
        #expect(try Self.export(archive, "Fixtures/cases/expired-timestamped/contract.pdf", to: folder).exitCode == 0)
        let document = folder + "/files/Fixtures/cases/expired-timestamped/contract.pdf"
        try Harness.flipByte(document, at: 100)
        let script = try Self.verifyScript(folder)
        #expect(script.exitCode == 1, "\(script.stdout)")
        #expect(script.stdout.contains("FAIL  SHA-256") && script.stdout.contains("this is not the document the report is about"), "\(script.stdout)")
        #expect(script.stdout.contains("FAIL  the signature does not verify"), "\(script.stdout)")
    }

    /// Without an anchor the bundled ones are used, loudly, with their fingerprints; a swapped
    /// bundled anchor fails on its own, and your own anchor is what counts.
    @Test func withoutAnAnchorTheScriptSaysSoAndASwappedAnchorFails() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/valid-pem-sig"], in: directory)
        let folder = directory + "/out"
        #expect(try Self.export(archive, "Fixtures/cases/valid-pem-sig/letter.txt", to: folder).exitCode == 0)
        let bundled = try Self.verifyScript(folder, anchor: nil)
        #expect(bundled.exitCode == 0, "\(bundled.stdout)")
        #expect(bundled.stdout.contains("WARNING: no trust anchor given") && bundled.stdout.contains("proves nothing by itself"))
        #expect(bundled.stdout.contains("SHA-256 c1dd6be0708b74cc5cdeed86c7f98912fc18dc267fd710149eb51835c61c3645"), "\(bundled.stdout)")
        // The attacker's root in anchors/: nothing leads to it.
        try FileManager.default.removeItem(atPath: folder + "/anchors/01.pem")
        try FileManager.default.copyItem(atPath: Harness.fixtures + "/pki/untrusted-root.pem", toPath: folder + "/anchors/01.pem")
        let swapped = try Self.verifyScript(folder, anchor: nil)
        #expect(swapped.exitCode == 1 && swapped.stdout.contains("no valid path to a trust anchor"), "\(swapped.stdout)")
        // With the anchor the expert holds, the bundle's own copy does not matter.
        #expect(try Self.verifyScript(folder).exitCode == 0)
        // And an expert holding another root gets no pass.
        let other = try Self.verifyScript(folder, anchor: Harness.fixtures + "/pki/untrusted-root.pem")
        #expect(other.exitCode == 1 && other.stdout.contains("no valid path to a trust anchor"), "\(other.stdout)")
    }
}

/// Certificates, CRLs and tokens re-signed with an attacker's key (the fixtures' untrusted root
/// key) under the real names: VERIFY.sh checks signatures from the anchor down, so each fails.
@Suite struct ExportAttackerTests {
    let pki = Harness.fixtures + "/pki"

    /// An attacker CA with the real intermediate's name, keyed with the untrusted root's key.
    func attackerCA(in directory: String) throws -> (certificate: String, key: String) {
        let certificate = directory + "/attacker-ca.pem", key = pki + "/private/untrusted-root-ca.key"
        let made = try Harness.openssl(["req", "-x509", "-new", "-key", key, "-subj", "/O=SigVault Test/CN=SigVault Test Intermediate CA",
                                        "-days", "36500", "-set_serial", "2", "-addext", "basicConstraints=critical,CA:TRUE",
                                        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", certificate])
        try #require(made.exitCode == 0, "\(made.stderr)")
        return (certificate, key)
    }

    /// What Fixtures/openssl-ca.cnf reads from the environment, set for the attacker's CA.
    func environment(_ directory: String, _ ca: (certificate: String, key: String)) -> [String: String] {
        ["CA_DIR": directory + "/ca", "CA_CERT": ca.certificate, "CA_KEY": ca.key, "SIGNER_EMAIL": "attacker@example.com",
         "TSA_SERIAL": directory + "/tsaserial"]
    }

    /// A certificate for `subject` with the attacker's other key, issued by the attacker's CA.
    func forgedCertificate(subject: String, serial: String, extensions: String, ca: (certificate: String, key: String), in directory: String) throws -> String {
        let key = pki + "/private/untrusted-signer.key"
        let request = directory + "/\(serial).csr", certificate = directory + "/\(serial).pem"
        #expect(try Harness.openssl(["req", "-new", "-key", key, "-subj", subject, "-out", request]).exitCode == 0)
        let issued = try Harness.run("/usr/bin/openssl", ["x509", "-req", "-in", request, "-CA", ca.certificate, "-CAkey", ca.key, "-set_serial", serial,
                                                          "-days", "36500", "-extfile", Harness.fixtures + "/openssl-ca.cnf", "-extensions", extensions,
                                                          "-out", certificate], environment: environment(directory, ca))
        try #require(issued.exitCode == 0, "\(issued.stderr)")
        return certificate
    }

    func bundle(_ fixture: String, _ document: String, in directory: String) throws -> String {
        let (archive, _) = try Harness.pack(["Fixtures/cases/\(fixture)"], in: directory)
        let folder = directory + "/out"
        let export = try ExportTests.export(archive, "Fixtures/cases/\(fixture)/\(document)", to: folder)
        try #require(export.exitCode <= 2, "\(export.stderr)")
        return folder
    }

    /// The signer's certificate file replaced by the same certificate re-signed by the attacker.
    @Test func aCertificateReSignedByAnAttackerFails() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let folder = try bundle("expired-timestamped", "contract.pdf", in: directory)
        let ca = try attackerCA(in: directory)
        for name in ["02-ca"] {
            // The intermediate swapped for the attacker's: the chain no longer reaches the anchor.
            let pem = folder + "/certificates/\(name).pem"
            try FileManager.default.removeItem(atPath: pem)
            try FileManager.default.copyItem(atPath: ca.certificate, toPath: pem)
        }
        let forged = try forgedCertificate(subject: "/O=SigVault Test/CN=Erin Expired", serial: "0x1001", extensions: "v3_signer", ca: ca, in: directory)
        try FileManager.default.removeItem(atPath: folder + "/certificates/01-signer.pem")
        try FileManager.default.copyItem(atPath: forged, toPath: folder + "/certificates/01-signer.pem")
        let script = try ExportTests.verifyScript(folder)
        #expect(script.exitCode == 1, "\(script.stdout)")
        #expect(script.stdout.contains("does not match its report") || script.stdout.contains("DISAGREES"), "\(script.stdout)")
        #expect(script.stdout.contains("FAIL"), "\(script.stdout)")
    }

    /// revoked-before's CRL replaced by one the attacker signed under the intermediate's name that
    /// lists nothing: it is not the intermediate's, so it shows nothing, and the script fails.
    @Test func aCRLReSignedByAnAttackerFails() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let folder = try bundle("revoked-before", "power-of-attorney.pdf", in: directory)
        let ca = try attackerCA(in: directory)
        let caDirectory = directory + "/ca"
        try FileManager.default.createDirectory(atPath: caDirectory + "/newcerts", withIntermediateDirectories: true)
        try "".write(toFile: caDirectory + "/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: caDirectory + "/crlnumber", atomically: true, encoding: .utf8)
        let crl = directory + "/forged.crl"
        let made = try Harness.run("/usr/bin/openssl", ["ca", "-config", Harness.fixtures + "/openssl-ca.cnf", "-gencrl", "-crldays", "36500", "-out", crl],
                                   environment: environment(directory, ca))
        try #require(made.exitCode == 0, "\(made.stderr)")
        // Every CRL of the bundle that the intermediate issued becomes the forged one.
        for name in try FileManager.default.contentsOfDirectory(atPath: folder + "/crls") where name.hasSuffix(".crl") {
            let text = try Harness.openssl(["crl", "-inform", "DER", "-in", folder + "/crls/" + name, "-noout", "-issuer"]).stdout
            guard text.contains("Intermediate") else { continue }
            try FileManager.default.removeItem(atPath: folder + "/crls/" + name)
            #expect(try Harness.openssl(["crl", "-in", crl, "-outform", "DER", "-out", folder + "/crls/" + name]).exitCode == 0)
        }
        let script = try ExportTests.verifyScript(folder)
        #expect(script.exitCode == 1, "\(script.stdout)")
        #expect(script.stdout.contains("not shown unrevoked") && script.stdout.contains("does not match its report"), "\(script.stdout)")
    }

    /// The signature time-stamp replaced by one from an attacker's TSA (the TSA's name, the
    /// attacker's key): it proves nothing, the expired signer has no proof of existence.
    @Test func aTokenReSignedByAnAttackerFails() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let folder = try bundle("expired-timestamped", "contract.pdf", in: directory)
        let ca = try attackerCA(in: directory)
        let key = pki + "/private/untrusted-signer.key"
        let tsa = try forgedCertificate(subject: "/O=SigVault Test/CN=SigVault Test TSA", serial: "0x1101", extensions: "v3_tsa", ca: ca, in: directory)
        // A token over the same signature value, which the script itself cuts out of the CMS.
        let token = folder + "/tokens/01-signature-timestamp.tst"
        let tstinfo = directory + "/tst.der"
        #expect(try Harness.openssl(["cms", "-verify", "-inform", "DER", "-in", token, "-noverify", "-binary", "-out", tstinfo]).exitCode == 0)
        let parsed = try Harness.openssl(["asn1parse", "-inform", "DER", "-in", tstinfo]).stdout
        let imprint = try #require(parsed.split(separator: "\n").first { $0.contains("OCTET STRING") }?.split(separator: ":").last).lowercased()
        let query = directory + "/q.tsq"
        #expect(try Harness.openssl(["ts", "-query", "-digest", imprint, "-sha256", "-cert", "-no_nonce", "-out", query]).exitCode == 0)
        try "01\n".write(toFile: directory + "/tsaserial", atomically: true, encoding: .utf8)
        let forged = directory + "/forged.tst"
        let reply = try Harness.run("/usr/bin/openssl", ["ts", "-reply", "-config", Harness.fixtures + "/openssl-ca.cnf", "-section", "tsa_config",
                                                          "-queryfile", query, "-signer", tsa, "-inkey", key, "-chain", ca.certificate,
                                                          "-token_out", "-out", forged],
                                    environment: environment(directory, ca))
        try #require(reply.exitCode == 0, "\(reply.stderr)")
        try FileManager.default.removeItem(atPath: token)
        try FileManager.default.copyItem(atPath: forged, toPath: token)
        let script = try ExportTests.verifyScript(folder)
        #expect(script.exitCode == 1, "\(script.stdout)")
        #expect(script.stdout.contains("FAIL  signature time-stamp tokens/01-signature-timestamp.tst"), "\(script.stdout)")
        #expect(script.stdout.contains("does not match its report"), "\(script.stdout)")
    }
}

/// Version 2 archives: the evidence record and its renewals, checked by VERIFY.sh with openssl.
@Suite(.serialized) struct ExportEvidenceRecordTests {
    @Test func renewedEvidenceIsRecomputedByTheScriptAndATamperedCoveredFileFails() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa, "the local TSA did not start").url("/tsa").absoluteString
        let (archive, pack) = try ArchiveTimeStampTests().pack(["Fixtures/cases/expired-timestamped", "Fixtures/cases/unsigned"],
                                                               ["--tsa", tsa], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        Thread.sleep(forTimeInterval: 1.1)
        let ocsp = try RenewTests.freshTSAResponses(in: directory)
        Thread.sleep(forTimeInterval: 1.1)
        let renewal = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem"] + ocsp.flatMap { ["--ocsp", $0] })
        #expect(renewal.exitCode == 0, "\(renewal.stderr)")
        Thread.sleep(forTimeInterval: 1.1)
        let hashRenewal = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem", "--hash", "sha512"]
                                               + ocsp.flatMap { ["--ocsp", $0] })
        #expect(hashRenewal.exitCode == 0, "\(hashRenewal.stderr)")
        let at = ISOTime.format(Date().addingTimeInterval(2))
        Thread.sleep(forTimeInterval: 2.1)
        let material = ocsp.flatMap { ["--ocsp", $0] }
        for (name, document, indication) in [("signed", "Fixtures/cases/expired-timestamped/contract.pdf", "TOTAL_PASSED"),
                                             ("unsigned", "Fixtures/cases/unsigned/readme.txt", "UNSIGNED")] {
            let folder = directory + "/" + name
            let export = try Harness.sigvault(["export", archive, document, "--to", folder, "--trust", "Fixtures/pki/root.pem", "--at", at] + material)
            #expect(export.exitCode == 0, "\(export.stdout)\(export.stderr)")
            let report = try ExportTests.report(folder)
            let record = try #require(report["evidenceRecord"] as? [String: Any])
            #expect(record["indication"] as? String == "TOTAL_PASSED", "\(record)")
            #expect((record["archiveTimeStamps"] as? [Any])?.count == 3)
            #expect((report["document"] as? [String: Any])?["indication"] as? String == indication)
            #expect((report["timeline"] as? [[String: Any]])?.contains { ($0["text"] as? String)?.contains("The evidence was renewed on") == true } == true)
            let script = try ExportTests.verifyScript(folder)
            #expect(script.exitCode == 0, "\(script.stdout)")
            #expect(script.stdout.contains("This agrees with the report."), "\(script.stdout)")
            #expect(script.stdout.contains("chain 2 (sha512): hash-tree renewal"), "\(script.stdout)")
            #expect(script.stdout.contains("renewal over time-stamp 1"), "\(script.stdout)")
            #expect(script.stdout.contains("the covered files existed at"), "\(script.stdout)")
        }
        // A covered file changed: the hash tree no longer leads to the token.
        let folder = directory + "/unsigned"
        let covered = try #require(((try ExportTests.report(folder))["evidenceRecord"] as? [String: Any])?["covers"] as? [[String: Any]])
        let file = try #require(covered.first?["file"] as? String)
        try Harness.flipByte(folder + "/" + file, at: 3)
        let tampered = try ExportTests.verifyScript(folder)
        #expect(tampered.exitCode == 1, "\(tampered.stdout)")
        #expect(tampered.stdout.contains("is not in the record's first list"), "\(tampered.stdout)")
        #expect(tampered.stdout.contains("evidence record evidence-record.ers: the report says TOTAL_PASSED, this check finds TOTAL_FAILED/HASH_FAILURE"), "\(tampered.stdout)")
    }
}

/// report.html in a real browser: Debian's headless Chromium (`--no-sandbox`: the tests run as root).
@Suite struct ExportHTMLTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func chromium(_ arguments: [String]) throws -> Harness.Result {
        let browser = try #require(Self.chromium, "chromium is not installed (make deps installs it)")
        return try Harness.run("/usr/bin/timeout", ["120", browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                                    "--user-data-dir=" + NSTemporaryDirectory() + "chromium-" + UUID().uuidString] + arguments)
    }

    /// PNG width and height (IHDR).
    func pngSize(_ path: String) throws -> (Int, Int) {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        try #require(bytes.count > 24 && bytes[1...3] == [0x50, 0x4E, 0x47])
        func word(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (word(16), word(20))
    }

    @Test func theReportRendersWithEveryCitedFileAndEscapesNames() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A document whose name is markup: it must show as text.
        let input = directory + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        let hostile = "<b>bold<i>&amp;\"x\".txt"
        try "not markup\n".write(toFile: input + "/" + hostile, atomically: true, encoding: .utf8)
        let (archive, _) = try Harness.pack(["Fixtures/cases/revoked-after", input], in: directory)
        let folder = directory + "/signed"
        #expect(try ExportTests.export(archive, "Fixtures/cases/revoked-after/purchase-order.pdf", to: folder).exitCode == 0)
        let report = try ExportTests.report(folder)
        let documentHash = try #require((report["document"] as? [String: Any])?["sha256"] as? String)
        let cited = Set(try #require(report["timeline"] as? [[String: Any]]).flatMap { $0["files"] as? [String] ?? [] })
        try #require(!cited.isEmpty)

        let dom = try chromium(["--dump-dom", "file://" + folder + "/report.html"])
        try #require(dom.exitCode == 0, "\(dom.stderr)")
        #expect(dom.stdout.contains(documentHash))
        #expect(dom.stdout.contains("TOTAL_PASSED"))
        for file in cited { #expect(dom.stdout.contains(file), "\(file)") }
        #expect(!dom.stdout.lowercased().contains("<script"))

        // The screenshot: the size asked for, and far more than a blank page of that size compresses to.
        let shot = directory + "/report.png", blankShot = directory + "/blank.png"
        try "<!DOCTYPE html><html><body></body></html>".write(toFile: directory + "/blank.html", atomically: true, encoding: .utf8)
        for (page, png) in [(folder + "/report.html", shot), (directory + "/blank.html", blankShot)] {
            let result = try chromium(["--hide-scrollbars", "--window-size=1240,1754", "--screenshot=" + png, "file://" + page])
            try #require(result.exitCode == 0, "\(result.stderr)")
        }
        let (width, height) = try pngSize(shot)
        #expect(width == 1240 && height == 1754, "\(width)x\(height)")
        #expect(try pngSize(blankShot) == (1240, 1754))
        let shotSize = try Harness.fileSize(shot), blankSize = try Harness.fileSize(blankShot)
        #expect(shotSize > 10 * blankSize, "screenshot \(shotSize) bytes, blank \(blankSize) bytes")

        // Printed: a PDF of one or more pages.
        let pdf = directory + "/report.pdf"
        let printed = try chromium(["--no-pdf-header-footer", "--print-to-pdf=" + pdf, "file://" + folder + "/report.html"])
        try #require(printed.exitCode == 0, "\(printed.stderr)")
        let pdfText = String(decoding: try Data(contentsOf: URL(fileURLWithPath: pdf)), as: UTF8.self)
        #expect(pdfText.hasPrefix("%PDF") && pdfText.contains("/Type /Page"))

        // The markup name: escaped in the file, text in the rendered page.
        let unsigned = directory + "/unsigned"
        let (_, verify) = try Harness.verifyJSON(archive)
        let document = try #require((verify["documents"] as? [[String: Any]])?.compactMap { $0["path"] as? String }.first { $0.hasSuffix(hostile) })
        #expect(try ExportTests.export(archive, document, to: unsigned).exitCode == 0)
        let html = try String(contentsOfFile: unsigned + "/report.html", encoding: .utf8)
        #expect(html.contains("&lt;b&gt;bold&lt;i&gt;&amp;amp;&quot;x&quot;.txt") && !html.contains("<b>bold"))
        let rendered = try chromium(["--dump-dom", "file://" + unsigned + "/report.html"])
        #expect(rendered.exitCode == 0 && !rendered.stdout.contains("<b>bold") && rendered.stdout.contains("&lt;b&gt;bold"), "\(rendered.stdout.prefix(2000))")
    }
}
