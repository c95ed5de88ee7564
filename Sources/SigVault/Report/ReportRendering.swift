import Foundation

extension VerifyReport {
    /// Writes the JSON document (docs/CLI.md, "verify JSON"): keys in sorted order, pretty-printed as
    /// JSONEncoder would, the documents one at a time.
    public func writeJSON(_ out: @escaping (String) -> Void) {
        var object = JSONObjectWriter(out)
        object.value("archive", archive)
        object.value("checks", checks)
        object.array("documents") { element in forEachDocument { element($0) } }
        object.value("exitCode", exitCode)
        object.value("fingerprint", fingerprint)
        object.value("formatVersion", formatVersion)
        object.value("integrity", integrity)
        object.value("proofOfTime", proofOfTime)
        object.value("references", references)
        object.value("renewedEvidence", renewedEvidence)
        object.value("schemaVersion", JSONOutput.schemaVersion)
        object.value("summary", summary)
        object.value("trust", trust)
        object.value("validationTime", validationTime)
        object.value("warnings", warnings)
        object.end()
    }

    /// Writes the human report: integrity first, a block per signed document, a line per unsigned one.
    public func writeText(_ write: (String) -> Void) {
        // One line per call; each is made safe on its own, so no field can start a line.
        func out(_ line: String) { write(TextSafety.line(line) + "\n") }
        out("archive      \(archive)")
        if let fingerprint { out("fingerprint  \(fingerprint)") }
        out("verified as of \(validationTime)")
        if let trust { out("trusted      \(trust.text)") }
        if integrity.ok {
            out("integrity    OK: every member matches the manifest, the manifest matches the trailer")
        } else {
            out("integrity    FAILED")
            for problem in integrity.problems { out("  - [\(problem.code)] \(problem.message)") }
        }
        out("proof of time: \(proofOfTime.statement)")
        if let renewedEvidence { out("evidence     renewed in the repository: \(renewedEvidence) (judged instead of the archive's own section)") }
        if let references {
            let archives = references.archives.joined(separator: ", ")
            if references.resolved {
                out("references   \(references.members) member(s) stored in archive(s) \(archives) of repository \(references.repository): found and checked there")
            } else {
                out("references   NOT CHECKED: \(references.members) member(s) are stored in archive(s) \(archives) of repository \(references.repository), not in this archive; verify with --repo <that repository>\(references.given.map { " (the repository given is \($0))" } ?? "")")
            }
        }
        if checks == "integrity" {
            out("")
            out("summary: \(summary.members) members, \(summary.documents) documents; integrity \(integrity.ok ? "OK" : "FAILED") (--integrity-only: signatures not evaluated)")
            return
        }
        for (_, document) in analysed where document.signed {
            var lines = [""]
            let verdict = [document.indication, document.subIndication].compactMap { $0 }.joined(separator: "/")
            lines.append("\(verdict)  \(document.path)")
            if let poe = document.proofOfExistence { lines.append("    proven to exist at \(poe)") }
            for note in document.notes { lines.append("    note: \(note)") }
            for signature in document.signatures {
                let sub = signature.subIndication.map { "/\($0)" } ?? ""
                lines.append("    signature \(signature.file) #\(signature.signerIndex): \(signature.indication)\(sub)")
                if let signer = signature.signer { lines.append("      signer: \(signer)") }
                if let validity = signature.certificateValidity {
                    lines.append("      certificate valid \(validity.notBefore) to \(validity.notAfter)")
                }
                if let best = signature.bestSignatureTime { lines.append("      best signature time: \(best)") }
                for status in signature.revocation { lines.append("      \(status.text)") }
                for stamp in signature.timeStamps {
                    let origin = stamp.file.map { " in \($0)" } ?? " (CAdES attribute)"
                    lines.append("      time-stamp\(origin) over the \(stamp.covers) at \(stamp.genTime): \(stamp.valid ? "valid" : "no proof")\(stamp.used ? ", proves the signature" : "") — \(stamp.reason)")
                    for status in stamp.revocation { lines.append("        TSA \(status.text)") }
                }
                lines.append("      \(signature.reason)")
            }
            for stamp in document.documentTimeStamps {
                lines.append("    time-stamp\(stamp.file.map { " in \($0)" } ?? "") over the document at \(stamp.genTime): \(stamp.valid ? "valid, proves the document existed (not the signature)" : "no proof") — \(stamp.reason)")
            }
            lines.forEach(out)
        }
        if summary.unsigned > 0 {
            out("")
            out("unsigned documents (archived and intact, no signature to validate):")
            forEachDocument { document in
                guard !document.signed else { return }
                var line = "  UNSIGNED  \(document.path)"
                if let poe = document.proofOfExistence { line += "  (a time-stamp proves it existed at \(poe))" }
                for note in document.notes { line += "  note: \(note)" }
                var lines = [line]
                for stamp in document.documentTimeStamps where !stamp.valid {
                    lines.append("      time-stamp\(stamp.file.map { " in \($0)" } ?? "") at \(stamp.genTime): no proof — \(stamp.reason)")
                }
                lines.forEach(out)
            }
        }
        out("")
        out("summary: \(summary.documents) documents, \(summary.signed) signed: \(summary.totalPassed) TOTAL_PASSED, \(summary.indeterminate) INDETERMINATE, \(summary.totalFailed) TOTAL_FAILED; \(summary.unsigned) unsigned")
    }
}

/// Writes one JSON object key by key in the layout of JSONEncoder's `.prettyPrinted` (two-space
/// indentation, `"key" : value`), so that long arrays can be streamed element by element. Keys must
/// be given in sorted order.
struct JSONObjectWriter {
    private let out: (String) -> Void
    private var first = true

    init(_ out: @escaping (String) -> Void) {
        self.out = out
        out("{")
    }

    private mutating func key(_ name: String) {
        out((first ? "\n" : ",\n") + "  \"\(name)\" : ")
        first = false
    }

    mutating func value<T: Encodable>(_ name: String, _ value: T?) {
        key(name)
        out(value.map { JSONOutput.encode($0, indent: 2) } ?? "null")
    }

    /// An array whose elements `produce` hands to the function it receives, one at a time.
    mutating func array<T: Encodable>(_ name: String, _ produce: ((T) -> Void) -> Void) {
        key(name)
        out("[")
        var any = false
        produce { element in
            out((any ? ",\n" : "\n") + "    " + JSONOutput.encode(element, indent: 4))
            any = true
        }
        out(any ? "\n  ]" : "\n\n  ]")
    }

    func end() { out("\n}\n") }
}
