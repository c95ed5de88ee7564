import Foundation

extension VerifyReport {
    public var jsonText: String { JSONOutput.encode(self) }

    /// The human report: integrity first, then one block per document.
    public var text: String {
        var lines: [String] = []
        lines.append("archive      \(archive)")
        if let fingerprint { lines.append("fingerprint  \(fingerprint)") }
        lines.append("verified as of \(validationTime)")
        if integrity.ok {
            lines.append("integrity    OK: every member matches the manifest, the manifest matches the trailer")
        } else {
            lines.append("integrity    FAILED")
            for problem in integrity.problems { lines.append("  - [\(problem.code)] \(problem.message)") }
        }
        lines.append("proof of time: \(proofOfTime.statement)")
        // Signed documents get a block each; unsigned ones a line each, at the end.
        for document in documents where document.signed {
            lines.append("")
            let verdict = document.signed
                ? [document.indication, document.subIndication].compactMap { $0 }.joined(separator: "/")
                : "UNSIGNED"
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
                for stamp in signature.timeStamps {
                    let origin = stamp.file.map { " in \($0)" } ?? " (CAdES attribute)"
                    lines.append("      time-stamp\(origin) over the \(stamp.covers) at \(stamp.genTime): \(stamp.valid ? "valid" : "no proof")\(stamp.used ? ", proves the signature" : "") — \(stamp.reason)")
                }
                lines.append("      \(signature.reason)")
            }
            for stamp in document.documentTimeStamps {
                lines.append("    time-stamp\(stamp.file.map { " in \($0)" } ?? "") over the document at \(stamp.genTime): \(stamp.valid ? "valid, proves the document existed (not the signature)" : "no proof") — \(stamp.reason)")
            }
        }
        let unsigned = documents.filter { !$0.signed }
        if !unsigned.isEmpty {
            lines.append("")
            lines.append("unsigned documents (archived and intact, no signature to validate):")
            for document in unsigned {
                var line = "  UNSIGNED  \(document.path)"
                if let poe = document.proofOfExistence { line += "  (a time-stamp proves it existed at \(poe))" }
                for note in document.notes { line += "  note: \(note)" }
                lines.append(line)
                for stamp in document.documentTimeStamps where !stamp.valid {
                    lines.append("      time-stamp\(stamp.file.map { " in \($0)" } ?? "") at \(stamp.genTime): no proof — \(stamp.reason)")
                }
            }
        }
        lines.append("")
        lines.append("summary: \(summary.documents) documents, \(summary.signed) signed: \(summary.totalPassed) TOTAL_PASSED, \(summary.indeterminate) INDETERMINATE, \(summary.totalFailed) TOTAL_FAILED; \(summary.unsigned) unsigned")
        return lines.joined(separator: "\n")
    }
}

extension ListReport {
    public var jsonText: String { JSONOutput.encode(self) }
}
