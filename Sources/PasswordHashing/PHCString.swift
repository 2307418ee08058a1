/// A password hash in the PHC string format: `$scrypt$ln=17,r=8,p=1$SALT$HASH`, salt and hash in
/// standard base64 without padding.
struct PHCString: Hashable {
    var cost: ScryptCost
    var salt: [UInt8]
    var hash: [UInt8]

    var text: String {
        "$scrypt$\(cost)$\(Base64.encode(salt))$\(Base64.encode(hash))"
    }

    init(cost: ScryptCost, salt: [UInt8], hash: [UInt8]) {
        self.cost = cost
        self.salt = salt
        self.hash = hash
    }

    /// Refuses anything but a well-formed scrypt PHC string with acceptable parameters.
    /// Errors name the part that is wrong, never the hash.
    init(parsing text: String) throws(PasswordHashError) {
        let fields = text.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty else {
            throw .malformed("it does not have the form $id$params$salt$hash")
        }
        guard fields[1] == "scrypt" else { throw .unsupportedAlgorithm }
        var logN: UInt8?
        var r: UInt32?
        var p: UInt32?
        for parameter in fields[2].split(separator: ",") {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { throw .malformed("a parameter is not name=value") }
            switch pair[0] {
            case "ln": logN = UInt8(pair[1])
            case "r": r = UInt32(pair[1])
            case "p": p = UInt32(pair[1])
            default: throw .malformed("unknown parameter '\(pair[0])'")
            }
        }
        guard let logN, let r, let p else { throw .malformed("ln, r and p are required") }
        let cost = ScryptCost(logN: logN, r: r, p: p)
        guard cost.isAcceptable else { throw .malformed("the parameters \(cost) are out of range") }
        guard let salt = Base64.decode(fields[3]), salt.count >= 8 else {
            throw .malformed("the salt is not valid base64 of 8 bytes or more")
        }
        guard let hash = Base64.decode(fields[4]), (16...64).contains(hash.count) else {
            throw .malformed("the hash is not valid base64 of 16 to 64 bytes")
        }
        self.init(cost: cost, salt: salt, hash: hash)
    }
}

/// Standard base64 (RFC 4648 section 4) without padding, as PHC strings use it.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0...chunk.count {
                output.append(alphabet[Int(value >> (18 - 6 * UInt32(position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        var values: [UInt8] = []
        for character in text.utf8 {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            values.append(UInt8(value))
        }
        guard values.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for value in values {
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        return output
    }
}
