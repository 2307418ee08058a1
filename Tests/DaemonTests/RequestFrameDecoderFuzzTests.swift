import NIOCore
import Testing
import TestSupport
import Wire

@testable import Daemon

/// The daemon's frame decoder under 5,000 seeded streams of valid, mutated and random frames, fed
/// whole and in random pieces: the same frames either way, nothing after the first malformed one,
/// and every decoded request re-encodes to its own bytes.
@Test func requestFrameDecoder_fuzzedStreams_sameFramesWholeOrInPieces() throws {
    var generator = SeededGenerator(seed: 0xDEC0_DE12)
    let frames: [[UInt8]] = [
        WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1),
        WireCodec.encodeRequest(
            .login(user: "alice", password: Array("pw".utf8), codeKind: .totp, code: "123456"),
            id: 2
        ),
        WireCodec.encodeRequest(.userList(organization: "", after: "", limit: 50), id: 3),
        WireCodec.encodeRequest(.enrollBegin(user: "bob", algorithm: .sha256, digits: 8, period: 60), id: 4),
        WireCodec.encodeRequest(.auditQuery(user: "", organization: "acme", since: 1, before: 0, limit: 10), id: 5),
    ]
    for _ in 0..<5_000 {
        var stream: [UInt8] = []
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            var frame = frames.randomElement(using: &generator)!
            switch Int.random(in: 0..<4, using: &generator) {
            case 0:
                frame = (0..<Int.random(in: 1...24, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            case 1:
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let index = Int.random(in: 0..<frame.count, using: &generator)
                    frame[index] =
                        Bool.random(using: &generator)
                        ? UInt8.random(in: 0...255, using: &generator) : UInt8.random(in: 0...9, using: &generator)
                }
            default:
                break
            }
            stream += frame
        }
        var cuts: [Int] = []
        var remaining = stream.count
        while remaining > 0 {
            cuts.append(min(remaining, Int.random(in: 1...12, using: &generator)))
            remaining -= cuts.last!
        }
        let whole = try decodeAll(stream, pieces: [stream.count])
        let pieces = try decodeAll(stream, pieces: cuts)
        if whole != pieces {
            Issue.record("whole: \(whole)\npieces \(cuts): \(pieces)\nstream: \(stream)")
            return
        }
        if let malformed = whole.firstIndex(where: { if case .malformed = $0 { true } else { false } }),
            malformed != whole.count - 1
        {
            Issue.record("frames after a malformed one: \(whole)")
            return
        }
        for case .request(let id, let request) in whole {
            let encoded = WireCodec.encodeRequest(request, id: id)
            if !stream.containsSubsequence(encoded) {
                Issue.record("\(request) was decoded from bytes that do not encode it: \(stream)")
                return
            }
        }
    }
}

private func decodeAll(_ stream: [UInt8], pieces: [Int]) throws -> [InboundFrame] {
    var decoder = RequestFrameDecoder()
    var buffer = ByteBuffer()
    var frames: [InboundFrame] = []
    var offset = 0
    for piece in pieces {
        buffer.writeBytes(stream[offset..<offset + piece])
        offset += piece
        while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
    }
    while let frame = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { frames.append(frame) }
    return frames
}

extension Array where Element == UInt8 {
    fileprivate func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<$0 + needle.count].elementsEqual(needle) }
    }
}
