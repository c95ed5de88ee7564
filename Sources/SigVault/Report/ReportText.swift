import Foundation
import SigVaultFormat
import SigVaultValidation

enum ReportText {
    static func verdictText(_ verdict: Verdict?) -> String {
        guard let verdict else { return "UNSIGNED" }
        return verdict.subIndication.map { "\(verdict.indication.rawValue)/\($0.rawValue)" } ?? verdict.indication.rawValue
    }

    static func packLine(_ result: DocumentResult) -> String {
        let verdict = result.verdict
        var line = "\(verdictText(verdict))  \(result.group.document)"
        if let verdict, verdict.indication != .totalPassed { line += ": \(verdict.reason)" }
        for note in result.group.notes { line += " (note: \(note))" }
        return line
    }
}
