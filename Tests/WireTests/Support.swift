import Glibc
import Wire

/// Bytes from hex text; spaces and newlines are ignored.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { index in
        UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16)!
    }
}

/// The body of a whole frame: the frame without its 4-byte length prefix.
func body(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(4)) }

/// A frame around `body`, with its length prefix.
func frame(_ body: [UInt8]) -> [UInt8] {
    let count = UInt32(body.count)
    return [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)] + body
}

/// The whole contents of a text file, read with stdio so the test needs no Foundation.
func readTextFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        contents += chunk[0..<count]
    }
    return String(decoding: contents, as: UTF8.self)
}

/// The bytes of every ```hex block of docs/protocol.md, in order. On each line the leading
/// two-digit hex tokens are bytes; the first other token starts the note.
func documentedFrames(in markdown: String) -> [[UInt8]] {
    var frames: [[UInt8]] = []
    var current: [UInt8]?
    for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
        if line == "```hex" {
            current = []
        } else if line == "```", let bytes = current {
            frames.append(bytes)
            current = nil
        } else if current != nil {
            for token in line.split(separator: " ") {
                guard token.count == 2, let byte = UInt8(token, radix: 16) else { break }
                current!.append(byte)
            }
        }
    }
    return frames
}

let sampleAccount = AccountInfo(
    user: "bob",
    organization: "acme",
    role: .agent,
    twoFactor: .pending,
    algorithm: .default,
    digits: 0,
    period: 0,
    failureCount: 2,
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_300,
    stateSetBy: .account("amy"),
    stateSetAt: 1_700_000_300
)

/// `sampleAccount` with one origin locked out, as docs/protocol.md's UserInfo example shows it.
let lockedSampleAccount: AccountInfo = {
    var info = sampleAccount
    info.lockedOrigins = 1
    return info
}()

let sampleOriginLock = OriginLockInfo(origin: .uid(65534), failures: 6, lockedUntil: 1_700_000_330)

let exampleURI = "otpauth://totp/twofactord:alice?secret=JBSWY3DPEHPK3PXP&issuer=twofactord"
