import QRCode
import Wire

/// What a person sees when asked to enroll: the QR code to scan and the secret for typing in by hand.
///
/// The otpauth URI holds the TOTP secret, so the screen is made of bytes, never a `String`, and `show` wipes the
/// URI and the screen once shown (docs/security.md, "Secrets in client memory").
public enum EnrollmentScreen {
    /// Draws the screen of `otpauthURI` (`render`), hands it to `write`, then wipes the screen and the URI: a
    /// client that waits for the first code next holds no copy of the secret. `write` must not keep the bytes
    /// (write(2), as `Terminal.writeOutput` and `writeError` do; stdio's buffer would).
    public static func show(otpauthURI: inout [UInt8], invertColors: Bool = false, with write: ([UInt8]) -> Void) {
        var screen = render(otpauthURI: otpauthURI, invertColors: invertColors)
        write(screen)
        wipe(&screen)
        wipe(&otpauthURI)
    }

    /// The QR code of `otpauthURI` drawn with half blocks, followed by the base32 secret and the URI, as UTF-8.
    /// Falls back to the secret alone when the URI does not fit in a QR code.
    ///
    /// The screen is built in one array reserved up front (growing would leave a copy behind) and the QR matrix is
    /// wiped, so that the returned bytes and `otpauthURI` are the only copies of the secret left to wipe.
    public static func render(otpauthURI: [UInt8], invertColors: Bool = false) -> [UInt8] {
        var matrix = try? QRMatrix(encoding: otpauthURI)
        defer { matrix?.wipe() }
        let scan = "Scan this QR code with your authenticator app:\n\n".utf8
        let byHand = "Or enter this secret by hand (time-based): ".utf8
        let uriLabel = "URI: ".utf8
        var screen: [UInt8] = []
        // The secret grouped is at most 5/4 of its length; the URI comes whole; 3 newlines.
        screen.reserveCapacity(
            scan.count + (matrix.map { QRRenderer.terminalLength($0) } ?? 0) + byHand.count + uriLabel.count
                + 3 * otpauthURI.count + 3
        )
        if let matrix {
            screen.append(contentsOf: scan)
            QRRenderer.terminal(matrix, invert: invertColors, appendingTo: &screen)
            screen.append(UInt8(ascii: "\n"))
        }
        if let secret = secret(in: otpauthURI) {
            screen.append(contentsOf: byHand)
            // Groups of four characters are easier to copy without a mistake; apps ignore the spaces.
            for (index, byte) in secret.enumerated() {
                if index > 0, index % 4 == 0 { screen.append(UInt8(ascii: " ")) }
                screen.append(byte)
            }
            screen.append(UInt8(ascii: "\n"))
        }
        screen.append(contentsOf: uriLabel)
        screen.append(contentsOf: otpauthURI)
        screen.append(UInt8(ascii: "\n"))
        return screen
    }

    /// The QR code of `otpauthURI` as the bytes of an image file: SVG text, or else PNG. Nil when the URI does not
    /// fit in a QR code.
    public static func image(otpauthURI: [UInt8], svg: Bool) -> [UInt8]? {
        guard var matrix = try? QRMatrix(encoding: otpauthURI) else { return nil }
        defer { matrix.wipe() }
        return svg ? Array(QRRenderer.svg(matrix).utf8) : QRRenderer.png(matrix)
    }

    /// New recovery codes as every client shows them, the one time they are shown.
    public static func recoveryCodes(_ codes: [String]) -> String {
        "Recovery codes: each works once in place of a code from the app. Keep them somewhere safe;\n"
            + "they are not shown again.\n\n" + codes.map { "  \($0)\n" }.joined()
    }

    /// The `secret` query parameter of an otpauth URI, base32 (which needs no percent-decoding), in the URI's own
    /// storage: a slice, not a copy.
    public static func secret(in otpauthURI: [UInt8]) -> ArraySlice<UInt8>? {
        guard let query = otpauthURI.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let key = "secret=".utf8
        var start = query + 1
        while start < otpauthURI.endIndex {
            let end = otpauthURI[start...].firstIndex(of: UInt8(ascii: "&")) ?? otpauthURI.endIndex
            let parameter = otpauthURI[start..<end]
            if parameter.starts(with: key) { return parameter.dropFirst(key.count) }
            start = end + 1
        }
        return nil
    }
}
