/// The Key URI format that authenticator apps scan from QR codes:
/// `otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER`, plus `algorithm`, `digits` and
/// `period` only where they differ from SHA1, 6 and 30 (apps ignore what they do not know, and
/// some ignore these, so defaults are left out).
public struct OTPAuthURI: Sendable, Hashable {
    public var issuer: String?
    public var account: String
    public var secret: [UInt8]
    public var parameters: TOTPParameters

    public init(issuer: String?, account: String, secret: [UInt8], parameters: TOTPParameters = .standard) {
        self.issuer = issuer
        self.account = account
        self.secret = secret
        self.parameters = parameters
    }

    public var uriString: String {
        var label = percentEncoded(account)
        var query = "secret=" + Base32.encode(secret)
        if let issuer, !issuer.isEmpty {
            label = percentEncoded(issuer) + ":" + label
            query += "&issuer=" + percentEncoded(issuer)
        }
        let standard = TOTPParameters.standard
        if parameters.algorithm != standard.algorithm { query += "&algorithm=" + parameters.algorithm.rawValue }
        if parameters.digits != standard.digits { query += "&digits=\(parameters.digits)" }
        if parameters.period != standard.period { query += "&period=\(parameters.period)" }
        return "otpauth://totp/" + label + "?" + query
    }

    /// Parses a TOTP Key URI. The issuer may come from the label prefix, the `issuer` parameter, or
    /// both (then they must agree).
    public init(parsing text: String) throws(OTPError) {
        let prefix = "otpauth://"
        guard text.lowercased().hasPrefix(prefix) else { throw .invalidURI("it must start with otpauth://") }
        let rest = text.dropFirst(prefix.count)
        guard rest.lowercased().hasPrefix("totp/") else {
            throw .invalidURI("only time-based (totp) secrets are supported")
        }
        let afterType = rest.dropFirst("totp/".count)
        let parts = afterType.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let label = try percentDecoded(parts[0])
        var labelIssuer: String?
        var account = label
        if let colon = label.firstIndex(of: ":") {
            labelIssuer = String(label[..<colon])
            account = String(label[label.index(after: colon)...].drop { $0 == " " })
        }
        guard !account.isEmpty else { throw .invalidURI("the account name is missing") }

        var secret: [UInt8]?
        var issuerParameter: String?
        var parameters = TOTPParameters.standard
        for item in (parts.count > 1 ? parts[1] : "").split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = try percentDecoded(pair.count > 1 ? pair[1] : "")
            switch pair[0].lowercased() {
            case "secret":
                secret = try Base32.decode(value)
            case "issuer":
                issuerParameter = value
            case "algorithm":
                guard let algorithm = OTPAlgorithm(rawValue: value.uppercased()) else {
                    throw .invalidURI("unknown algorithm (use SHA1, SHA256 or SHA512)")
                }
                parameters.algorithm = algorithm
            case "digits":
                guard let digits = Int(value), (6...8).contains(digits) else {
                    throw .digitsOutOfRange(Int(value) ?? 0)
                }
                parameters.digits = digits
            case "period":
                guard let period = Int(value), period >= 1 else { throw .periodOutOfRange(Int(value) ?? 0) }
                parameters.period = period
            default:
                continue
            }
        }
        guard let secret, !secret.isEmpty else { throw .invalidURI("the secret parameter is missing") }
        if let labelIssuer, let issuerParameter, labelIssuer != issuerParameter {
            throw .invalidURI("the issuer in the label and the issuer parameter differ")
        }
        self.init(issuer: issuerParameter ?? labelIssuer, account: account, secret: secret, parameters: parameters)
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters.
private func percentEncoded(_ text: String) -> String {
    var output = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "@"):
            output.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".unicodeScalars)
            output.unicodeScalars.append("%")
            output.unicodeScalars.append(hex[Int(byte >> 4)])
            output.unicodeScalars.append(hex[Int(byte & 0x0F)])
        }
    }
    return output
}

private func percentDecoded(_ text: Substring) throws(OTPError) -> String {
    var bytes: [UInt8] = []
    var iterator = Array(text.utf8).makeIterator()
    while let byte = iterator.next() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
            throw .invalidURI("a percent escape is broken")
        }
        bytes.append(high << 4 | low)
    }
    guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .invalidURI("it is not valid UTF-8") }
    return decoded
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
