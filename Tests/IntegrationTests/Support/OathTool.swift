import Foundation
import TestSupport

extension OathTool {
    /// The codes of `count` consecutive steps from the one holding `time`, keyed by step, in one run of
    /// oathtool (`-w` prints the codes of the steps after the first).
    static func codes(secret: String, from time: Int64, count: Int, period: Int = 30) throws -> [Int64: String] {
        let printed = try run(
            ["--totp=sha1", "--base32", "-s", "\(period)s", "-N", "@\(time)", "-w", "\(count - 1)", secret]
        )
        let lines = printed.split(separator: "\n").map(String.init)
        guard lines.count == count else { throw Failed(message: "expected \(count) codes, got \(lines.count)") }
        let first = time / Int64(period)
        return Dictionary(uniqueKeysWithValues: lines.enumerated().map { (first + Int64($0.offset), $0.element) })
    }

    /// The bytes of a base32 secret, as oathtool decodes it (`-v` prints them in hex).
    static func secretBytes(base32 secret: String) throws -> [UInt8] {
        let printed = try run(["--totp", "-v", "--base32", secret])
        guard let line = printed.split(separator: "\n").first(where: { $0.hasPrefix("Hex secret: ") }) else {
            throw Failed(message: "oathtool -v printed no hex secret")
        }
        let hex = Array(line.dropFirst("Hex secret: ".count))
        return stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(String(hex[$0...$0 + 1]), radix: 16) }
    }
}

func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }
