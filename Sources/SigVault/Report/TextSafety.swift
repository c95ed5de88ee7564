/// Text output is line-oriented: a name, a certificate subject or a server's text must not be able to
/// start a line of its own (a file named `a<LF>sigvault: error: forged`) or reorder what a terminal
/// shows. Every line printed goes through `line(_:)`; JSON output escapes as JSON does instead.
public enum TextSafety {
    /// `text` with every control character (C0, DEL, C1), line and paragraph separator and bidi
    /// override escaped: `\xHH` below U+0100, `\u{HHHH}` above. A backslash is left as it is: names
    /// already show a literal one as `\\` (docs/FORMAT.md, names).
    public static func line(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 8)
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += scalar.value < 0x100 ? "\\x" + String(repeating: "0", count: 2 - hex.count) + hex : "\\u{\(hex)}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: return true
        default: return false
        }
    }
}
