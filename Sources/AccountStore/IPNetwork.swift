import Glibc

// MUSTs of network matching (issue 11, trusted networks):
// - only an IP literal matches: a host name never does (it is whatever the resolver or the client said);
// - an address matches a network of its own family only; an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
//   counts as the IPv4 address it carries, as sshd may report either;
// - a network's host bits are zero, so what is stored is what is shown.

/// An IPv4 or IPv6 network in CIDR notation, such as `192.0.2.0/24` or `2001:db8::/32`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 bytes (IPv6), host bits zero.
    public let address: [UInt8]
    public let prefixLength: UInt8

    /// Parses `ADDRESS/PREFIX`; a bare address is a network of one. Throws when the text is not one,
    /// or when host bits are set (`10.1.2.3/8` is refused: `10.0.0.0/8` is meant, or a mistake was made).
    public init(_ text: String) throws(InvalidValue) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = Self.parseAddress(String(parts[0])) else {
            throw InvalidValue(
                "'\(text)' is not a network: write an IPv4 or IPv6 address/prefix, such as 192.0.2.0/24"
            )
        }
        let maximum = address.count * 8
        var prefix = maximum
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maximum).contains(value), parts[1].allSatisfy(\.isASCII) else {
                throw InvalidValue("the prefix length in '\(text)' must be 0 to \(maximum)")
            }
            prefix = value
        }
        guard Self.masked(address, prefix) == address else {
            let network = IPNetwork(address: Self.masked(address, prefix), prefixLength: UInt8(prefix))
            throw InvalidValue("'\(text)' has host bits set: did you mean \(network)?")
        }
        self.init(address: address, prefixLength: UInt8(prefix))
    }

    /// A network from its stored parts; nil when they do not form one (wrong length, prefix or host bits).
    public init?(storedAddress address: [UInt8], prefixLength: UInt8) {
        guard address.count == 4 || address.count == 16, Int(prefixLength) <= address.count * 8,
            Self.masked(address, Int(prefixLength)) == address
        else { return nil }
        self.init(address: address, prefixLength: prefixLength)
    }

    private init(address: [UInt8], prefixLength: UInt8) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Whether `host` is an IP literal inside this network.
    public func contains(host: String) -> Bool {
        guard var candidate = Self.parseAddress(host) else { return false }
        if candidate.count == 16, address.count == 4, candidate.prefix(12) == Self.mappedPrefix[...] {
            candidate = Array(candidate.suffix(4))
        }
        return candidate.count == address.count && Self.masked(candidate, Int(prefixLength)) == address
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = address.count == 4 ? AF_INET : AF_INET6
        let text = address.withUnsafeBytes { bytes in
            inet_ntop(family, bytes.baseAddress, &buffer, socklen_t(buffer.count)) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        }
        return "\(text)/\(prefixLength)"
    }

    private static let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]

    /// The 4 or 16 bytes of an IP literal; nil for anything else (a host name, a zone suffix, spaces).
    static func parseAddress(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, text, &v4) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, text, &v6) == 1 { return v6 }
        return nil
    }

    static func masked(_ address: [UInt8], _ prefix: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let bits = min(8, max(0, prefix - index * 8))
            return bits == 8 ? byte : byte & ~(UInt8(0xFF) >> bits)
        }
    }
}
