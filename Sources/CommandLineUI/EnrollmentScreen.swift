import QRCode

/// What a person sees when asked to enroll: the QR code to scan and the secret for typing in by hand.
public enum EnrollmentScreen {
    /// The QR code of `otpauthURI` drawn with half blocks, followed by the base32 secret and the URI.
    /// Falls back to the secret alone when the URI does not fit in a QR code.
    public static func render(otpauthURI: String, invertColors: Bool = false) -> String {
        var screen = ""
        if let matrix = try? QRMatrix(encoding: otpauthURI) {
            screen += "Scan this QR code with your authenticator app:\n\n"
            screen += QRRenderer.terminal(matrix, invert: invertColors)
            screen += "\n"
        }
        if let secret = secret(in: otpauthURI) {
            screen += "Or enter this secret by hand (time-based): \(grouped(secret))\n"
        }
        screen += "URI: \(otpauthURI)\n"
        return screen
    }

    /// The QR code of `otpauthURI` as the bytes of an image file: SVG text, or else PNG. Nil when the URI does not
    /// fit in a QR code.
    public static func image(otpauthURI: String, svg: Bool) -> [UInt8]? {
        guard let matrix = try? QRMatrix(encoding: otpauthURI) else { return nil }
        return svg ? Array(QRRenderer.svg(matrix).utf8) : QRRenderer.png(matrix)
    }

    /// New recovery codes as every client shows them, the one time they are shown.
    public static func recoveryCodes(_ codes: [String]) -> String {
        "Recovery codes: each works once in place of a code from the app. Keep them somewhere safe;\n"
            + "they are not shown again.\n\n" + codes.map { "  \($0)\n" }.joined()
    }

    /// The `secret` query parameter of an otpauth URI: base32, which needs no percent-decoding.
    public static func secret(in otpauthURI: String) -> String? {
        guard let query = otpauthURI.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for parameter in query.split(separator: "&") where parameter.hasPrefix("secret=") {
            return String(parameter.dropFirst("secret=".count))
        }
        return nil
    }

    /// Groups of four characters are easier to copy without a mistake; apps ignore the spaces.
    static func grouped(_ secret: String) -> String {
        var result = ""
        for (index, character) in secret.enumerated() {
            if index > 0, index % 4 == 0 { result.append(" ") }
            result.append(character)
        }
        return result
    }
}
