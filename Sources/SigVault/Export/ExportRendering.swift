import Foundation

/// report.txt: the report's model as plain text, every line made safe (`TextSafety.line`).
enum ExportReportText {
    static func certificate(_ info: ExportReport.CertificateInfo, _ indent: String, _ add: (String) -> Void) {
        add("\(indent)\(info.subject)\(info.trustAnchor ? "  [trust anchor]" : "")")
        add("\(indent)  serial \(info.serial), SHA-256 \(info.sha256)")
        add("\(indent)  valid \(Timeline.when(info.validFrom)) to \(Timeline.when(info.validTo))\(info.file.map { ", file \($0)" } ?? "")")
    }

    static func timeline(_ statements: [ExportReport.Statement], _ add: (String) -> Void) {
        for (number, statement) in statements.enumerated() {
            add("\(number + 1). [\(statement.indication)] \(statement.text)")
            if !statement.files.isEmpty { add("   Proved by: \(statement.files.joined(separator: ", "))") }
        }
    }

    static func signer(_ signer: ExportReport.Signer, _ add: (String) -> Void) {
        add("Signature \(signer.signatureFile), SignerInfo \(signer.signerInfo): \(Timeline.indicationText(signer.indication, signer.subIndication))")
        add(String(repeating: "-", count: 12))
        add("Reason: \(signer.reason)")
        add("Claimed signing time: \(signer.claimedSigningTime.map(Timeline.when) ?? "none")")
        add("Best signature time:  \(signer.bestSignatureTime.map(Timeline.when) ?? "none")")
        add("Chain:")
        signer.chain.forEach { certificate($0, "  ", add) }
        if signer.chain.isEmpty, let leaf = signer.certificate { certificate(leaf, "  ", add) }
        add("Revocation:")
        signer.revocation.forEach { add("  \($0.certificate): \(Timeline.statusText($0))") }
        for stamp in signer.timeStamps { add("Time-stamp: \(Timeline.stampText(stamp))") }
    }

    static func render(_ report: ExportReport) -> String {
        var lines: [String] = []
        func add(_ text: String = "") { lines.append(TextSafety.line(text)) }
        add("SigVault evidence report")
        add("========================")
        add()
        add("Document:          \(report.document.name)")
        add("File:              \(report.document.file)")
        add("SHA-256:           \(report.document.sha256)")
        add("Result:            \(Timeline.indicationText(report.document.indication, report.document.subIndication))")
        add("Reason:            \(report.document.reason)")
        add("Proof of existence: \(report.document.proofOfExistence.map(Timeline.when) ?? "none")")
        add("Validation time:   \(Timeline.when(report.validationTime))")
        add("Archive:           \(report.archive.name), fingerprint \(report.archive.fingerprint ?? "none"), format \(report.archive.formatVersion.map(String.init) ?? "?")\(report.archive.integrityOK ? ", intact" : ", DAMAGED")")
        add("Generator:         \(report.generator)")
        add("Policy:            \(report.policy)")
        report.document.notes.forEach { add("Note:              \($0)") }
        add()
        add("What is proven, in order")
        add("------------------------")
        timeline(report.timeline, add)
        add()
        add("Trust anchors")
        add("-------------")
        if report.trustAnchors.isEmpty { add("none reached") }
        report.trustAnchors.forEach { certificate($0, "", add) }
        add(report.trustStatement)
        for signer in report.signers {
            add()
            self.signer(signer, add)
        }
        for stamp in report.documentTimeStamps { add(); add("Document time-stamp: \(Timeline.stampText(stamp))") }
        if let record = report.evidenceRecord {
            add()
            add("Evidence record \(record.file): \(Timeline.indicationText(record.indication, record.subIndication))")
            add(String(repeating: "-", count: 16))
            add("Reason: \(record.reason)")
            add("Covers:")
            record.covers.forEach { add("  \($0.sha256)  \($0.file)") }
            for stamp in record.archiveTimeStamps { add("Archive time-stamp: \(Timeline.stampText(stamp))") }
        }
        add()
        add("Files of this bundle (SHA-256)")
        add("------------------------------")
        report.files.forEach { add("\($0.sha256)  \($0.file)") }
        report.warnings.forEach { add("warning: \($0)") }
        add()
        add("Conclusion: \(report.conclusion)")
        add("Check it yourself: sh VERIFY.sh <your trust anchor file> (see VERIFY.md).")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// report.html: one file, no external resource, no script (the Content-Security-Policy forbids
/// them), every text escaped; prints on A4 and Letter.
enum ExportReportHTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in TextSafety.line(text).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static let style = """
    :root { color-scheme: light; }
    body { font-family: "Noto Sans", "DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "Source Han Sans", "Microsoft YaHei", "PingFang SC", sans-serif; color: #111; margin: 2em auto; max-width: 60em; line-height: 1.4; }
    h1 { font-size: 1.5em; border-bottom: 2px solid #333; }
    h2 { font-size: 1.15em; margin-top: 1.5em; border-bottom: 1px solid #999; }
    code, .hash { font-family: "DejaVu Sans Mono", "Noto Sans Mono", monospace; font-size: 0.85em; word-break: break-all; }
    table { border-collapse: collapse; width: 100%; }
    td, th { border: 1px solid #bbb; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }
    .TOTAL_PASSED { color: #0a5c0a; font-weight: bold; }
    .TOTAL_FAILED { color: #a00000; font-weight: bold; }
    .INDETERMINATE { color: #8a5a00; font-weight: bold; }
    ol li { margin-bottom: 0.6em; }
    .files { color: #444; font-size: 0.9em; }
    @page { size: auto; margin: 18mm 15mm; }
    @media print { body { margin: 0; max-width: none; font-size: 10pt; } h2 { break-after: avoid; } tr, li { break-inside: avoid; } }
    """

    static func indication(_ text: String, _ sub: String?) -> String {
        "<span class=\"\(escape(text))\">\(escape(Timeline.indicationText(text, sub)))</span>"
    }

    static func row(_ key: String, _ value: String, raw: Bool = false) -> String { "<tr><th>\(escape(key))</th><td>\(raw ? value : escape(value))</td></tr>" }

    static func certificate(_ info: ExportReport.CertificateInfo) -> String {
        "\(escape(info.subject))\(info.trustAnchor ? " <b>[trust anchor]</b>" : "")<br>serial <code>\(escape(info.serial))</code>, SHA-256 <code class=\"hash\">\(escape(info.sha256))</code><br>valid \(escape(Timeline.when(info.validFrom))) to \(escape(Timeline.when(info.validTo)))\(info.file.map { ", file <code>\(escape($0))</code>" } ?? "")"
    }

    /// The document head: the policy that forbids scripts and outside resources, and the style.
    static func head(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'; base-uri 'none'; form-action 'none'">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        \(style)
        </style></head><body>
        """
    }

    static func timeline(_ statements: [ExportReport.Statement], _ add: (String) -> Void) {
        add("<ol>")
        for statement in statements {
            add("<li>\(indication(statement.indication, nil)) \(escape(statement.text))"
                + (statement.files.isEmpty ? "" : "<br><span class=\"files\">Proved by: \(statement.files.map { "<code>\(escape($0))</code>" }.joined(separator: ", "))</span>")
                + "</li>")
        }
        add("</ol>")
    }

    static func signer(_ signer: ExportReport.Signer, heading: String, _ add: (String) -> Void) {
        add("<\(heading)>Signature <code>\(escape(signer.signatureFile))</code>, SignerInfo \(signer.signerInfo): \(indication(signer.indication, signer.subIndication))</\(heading)>")
        add("<table>")
        add(row("Reason", signer.reason))
        if let leaf = signer.certificate { add(row("Signer", certificate(leaf), raw: true)) }
        add(row("Claimed signing time", signer.claimedSigningTime.map(Timeline.when) ?? "none"))
        add(row("Best signature time", signer.bestSignatureTime.map(Timeline.when) ?? "none"))
        add(row("Chain", signer.chain.map(certificate).joined(separator: "<hr>"), raw: true))
        add(row("Revocation", signer.revocation.map { escape("\($0.certificate): \(Timeline.statusText($0))") }.joined(separator: "<br>"), raw: true))
        signer.timeStamps.forEach { add(row("Time-stamp", Timeline.stampText($0))) }
        add("</table>")
    }

    static func render(_ report: ExportReport) -> String {
        var html = ""
        func add(_ text: String) { html += text + "\n" }
        func row(_ key: String, _ value: String, raw: Bool = false) { add(Self.row(key, value, raw: raw)) }
        add(head(title: "SigVault evidence report: \(report.document.name)"))
        add("<h1>Evidence report: \(escape(report.document.name))</h1>")
        add("<table>")
        row("Result", indication(report.document.indication, report.document.subIndication), raw: true)
        row("Reason", report.document.reason)
        row("Document file", "<code>\(escape(report.document.file))</code>", raw: true)
        row("Document SHA-256", "<code class=\"hash\">\(escape(report.document.sha256))</code>", raw: true)
        row("Proof of existence", report.document.proofOfExistence.map(Timeline.when) ?? "none")
        row("Validation time", Timeline.when(report.validationTime))
        row("Archive", "\(report.archive.name), fingerprint \(report.archive.fingerprint ?? "none")\(report.archive.integrityOK ? ", intact" : ", DAMAGED")")
        row("Generator", report.generator)
        row("Validation policy", report.policy)
        report.document.notes.forEach { row("Note", $0) }
        add("</table>")
        add("<h2>What is proven, in order</h2>")
        timeline(report.timeline, add)
        add("<h2>Trust anchors</h2>")
        add("<p>\(escape(report.trustStatement))</p><ul>")
        report.trustAnchors.forEach { add("<li>\(certificate($0))</li>") }
        add("</ul>")
        for signer in report.signers { self.signer(signer, heading: "h2", add) }
        if !report.documentTimeStamps.isEmpty {
            add("<h2>Document time-stamps</h2><ul>")
            report.documentTimeStamps.forEach { add("<li>\(escape(Timeline.stampText($0)))</li>") }
            add("</ul>")
        }
        if let record = report.evidenceRecord {
            add("<h2>Evidence record <code>\(escape(record.file))</code>: \(indication(record.indication, record.subIndication))</h2>")
            add("<p>\(escape(record.reason))</p><table><tr><th>SHA-256</th><th>Covered file</th></tr>")
            record.covers.forEach { add("<tr><td><code class=\"hash\">\(escape($0.sha256))</code></td><td><code>\(escape($0.file))</code></td></tr>") }
            add("</table><ul>")
            record.archiveTimeStamps.forEach { add("<li>\(escape(Timeline.stampText($0)))</li>") }
            add("</ul>")
        }
        add("<h2>Files of this bundle</h2><table><tr><th>SHA-256</th><th>File</th></tr>")
        report.files.forEach { add("<tr><td><code class=\"hash\">\(escape($0.sha256))</code></td><td><code>\(escape($0.file))</code></td></tr>") }
        add("</table>")
        report.warnings.forEach { add("<p>warning: \(escape($0))</p>") }
        add("<h2>Conclusion</h2><p>\(escape(report.conclusion))</p>")
        add("<p>Check it yourself, without SigVault: <code>sh VERIFY.sh &lt;your trust anchor file&gt;</code> (see VERIFY.md).</p>")
        add("</body></html>")
        return html
    }
}
