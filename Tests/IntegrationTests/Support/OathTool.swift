import Foundation

/// Codes from oathtool(1), an implementation independent of ours.
enum OathTool {
    /// The TOTP code of `secret` (base32) at `time`, as an authenticator app would show it.
    static func code(secret: String, at time: Int64, period: Int = 30, digits: Int = 6) throws -> String {
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/oathtool"),
            ["--totp=sha1", "--base32", "-d", "\(digits)", "-s", "\(period)s", "-N", "@\(time)", secret]
        )
        guard result.status == 0 else { throw OathToolFailed(message: result.standardError) }
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The codes of `count` consecutive steps from the one holding `time`, keyed by step, in one run of
    /// oathtool (`-w` prints the codes of the steps after the first).
    static func codes(secret: String, from time: Int64, count: Int, period: Int = 30) throws -> [Int64: String] {
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/oathtool"),
            ["--totp=sha1", "--base32", "-s", "\(period)s", "-N", "@\(time)", "-w", "\(count - 1)", secret]
        )
        guard result.status == 0 else { throw OathToolFailed(message: result.standardError) }
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        guard lines.count == count else { throw OathToolFailed(message: "expected \(count) codes, got \(lines.count)") }
        let first = time / Int64(period)
        return Dictionary(uniqueKeysWithValues: lines.enumerated().map { (first + Int64($0.offset), $0.element) })
    }

    /// The bytes of a base32 secret, as oathtool decodes it (`-v` prints them in hex).
    static func secretBytes(base32 secret: String) throws -> [UInt8] {
        let result = try run(URL(fileURLWithPath: "/usr/bin/oathtool"), ["--totp", "-v", "--base32", secret])
        guard result.status == 0,
            let line = result.standardOutput.split(separator: "\n").first(where: { $0.hasPrefix("Hex secret: ") })
        else { throw OathToolFailed(message: result.standardError) }
        let hex = Array(line.dropFirst("Hex secret: ".count))
        return stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(String(hex[$0...$0 + 1]), radix: 16) }
    }

    struct OathToolFailed: Error { var message: String }
}

/// The `secret` parameter of an otpauth URI.
func secretParameter(ofURI uri: String) -> String? {
    URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value
}

func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }
