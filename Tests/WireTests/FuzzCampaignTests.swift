import Testing
import TestSupport
import Wire

// A deterministic fuzz campaign (fixed seeds, so a failure reproduces) over the frame reader and
// the parser of every message type, with these properties on every input:
// - no crash, and every loop ends (the test finishes);
// - a decoder either throws or returns a message that re-encodes to exactly the same body
//   (version 1 has one encoding per message) and passes `WireCodec.validate`;
// - a stream gives the same bodies and the same error whether it is read whole or in pieces.

/// Every parser gets inputs of its own type: mutated valid bodies, and random tails after its type byte.
@Test func fuzzCampaign_everyMessageParser_102000Cases() {
    var generator = SeededGenerator(seed: 0xF022_2026)
    // Small bodies only (the longest-string samples are checked by RoundTripTests), plus a short
    // user list: mutating and re-encoding 64 KiB bodies would make the campaign slow, not deeper.
    let requestBodies = sampleRequests.map { body(WireCodec.encodeRequest($0, id: 7)) }.filter { $0.count <= 300 }
    let responseBodies = (sampleResponses + [.userList([sampleAccount], next: "carl")])
        .map { body(WireCodec.encodeResponse($0, id: 7)) }.filter { $0.count <= 300 }
    let sampled = Set((requestBodies + responseBodies).map { $0[0] })
    let missing = MessageType.allCases.filter { !sampled.contains($0.rawValue) }
    #expect(missing.isEmpty, "add a sample of \(missing) to RoundTripTests so that its parser is fuzzed")

    let types = MessageType.allCases.map(\.rawValue)
    var cases = 0
    var decodedByType: [UInt8: Int] = [:]
    for index in 0..<102_000 {
        let bytes: [UInt8]
        switch index % 3 {
        case 0: bytes = fuzzMutate(requestBodies.randomElement(using: &generator)!, using: &generator)
        case 1: bytes = fuzzMutate(responseBodies.randomElement(using: &generator)!, using: &generator)
        default:
            let type = types.randomElement(using: &generator)!
            bytes =
                [type]
                + (0..<Int.random(in: 0...48, using: &generator)).map { _ in
                    // Mostly small bytes: they make plausible lengths, enum values and counts.
                    Bool.random(using: &generator)
                        ? UInt8.random(in: 0...9, using: &generator) : UInt8.random(in: 0...255, using: &generator)
                }
        }
        if checkRequestRoundTrip(bytes) || checkResponseRoundTrip(bytes), let type = bytes.first {
            decodedByType[type, default: 0] += 1
        }
        cases += 1
    }
    #expect(cases >= 100_000)
    // Every parser must also have accepted some mutated input, or the campaign only exercised its first check.
    let neverDecoded = MessageType.allCases.filter { (decodedByType[$0.rawValue] ?? 0) == 0 }
    #expect(neverDecoded.isEmpty, "no fuzzed input of \(neverDecoded) ever decoded")
}

/// Streams of mutated frames and random bytes, read whole and in random pieces.
@Test func fuzzCampaign_frameReader_sameResultWholeOrInPieces_2000Streams() {
    var generator = SeededGenerator(seed: 0x5EED_F8A3)
    let frames = sampleRequests.map { WireCodec.encodeRequest($0, id: 9) }
    for _ in 0..<2_000 {
        var stream: [UInt8] = []
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let frame = frames.randomElement(using: &generator)!
            stream += Int.random(in: 0..<4, using: &generator) == 0 ? fuzzMutate(frame, using: &generator) : frame
        }
        let whole = readFrames(stream, pieces: [stream.count])
        var cuts: [Int] = []
        var remaining = stream.count
        while remaining > 0 {
            let piece = min(remaining, Int.random(in: 1...16, using: &generator))
            cuts.append(piece)
            remaining -= piece
        }
        let pieces = readFrames(stream, pieces: cuts)
        if whole != pieces {
            Issue.record("read whole: \(whole)\nin pieces \(cuts): \(pieces)\nstream: \(stream)")
            return
        }
    }
}

/// The bodies a request reader yields from `stream` fed in `pieces`, then its error if any.
private func readFrames(_ stream: [UInt8], pieces: [Int]) -> [[UInt8]] {
    var reader = FrameReader(maximumBodyLength: WireProtocol.maximumRequestBodyLength)
    var bodies: [[UInt8]] = []
    var offset = 0
    for piece in pieces {
        reader.append(stream[offset..<offset + piece])
        offset += piece
        while true {
            do {
                guard let body = try reader.nextBody() else { break }
                if body.count < WireProtocol.minimumBodyLength || body.count > WireProtocol.maximumRequestBodyLength {
                    Issue.record("a body of \(body.count) bytes passed the length check")
                }
                checkRequestRoundTrip(body)
                bodies.append(body)
            } catch {
                // A reader that refused a length stays refused: the connection is closed.
                return bodies + [Array("error \(error.code)".utf8)]
            }
        }
    }
    return bodies
}

/// Whether `bytes` decoded as a request; when it did, checks the round trip and the validator.
@discardableResult
func checkRequestRoundTrip(_ bytes: [UInt8]) -> Bool {
    guard let (id, request) = try? WireCodec.decodeRequest(body: bytes) else { return false }
    // Plain checks, not #expect, in this hot path: a campaign calls them hundreds of thousands of times.
    if Array(WireCodec.encodeRequest(request, id: id).dropFirst(4)) != bytes {
        Issue.record("\(bytes) decoded to \(request), which encodes differently")
    }
    if (try? WireCodec.validate(request)) == nil {
        Issue.record("the decoder accepted \(request), which the validator refuses")
    }
    return true
}

/// Whether `bytes` decoded as a response; when it did, checks the round trip and the validator.
@discardableResult
func checkResponseRoundTrip(_ bytes: [UInt8]) -> Bool {
    guard let (id, response) = try? WireCodec.decodeResponse(body: bytes) else { return false }
    if Array(WireCodec.encodeResponse(response, id: id).dropFirst(4)) != bytes {
        Issue.record("\(bytes) decoded to \(response), which encodes differently")
    }
    if (try? WireCodec.validate(response)) == nil {
        Issue.record("the decoder accepted \(response), which the validator refuses")
    }
    return true
}

/// One to four random edits: a byte replaced, a bit flipped, a byte removed or inserted, a byte set
/// to a small value (lengths, enums and counts), or a length prefix set to a boundary.
func fuzzMutate(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
    var result = bytes
    for _ in 0..<Int.random(in: 1...4, using: &generator) {
        let index = result.isEmpty ? 0 : Int.random(in: 0..<result.count, using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0 where !result.isEmpty: result[index] = UInt8.random(in: 0...255, using: &generator)
        case 1 where !result.isEmpty: result[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
        case 2 where !result.isEmpty: result.remove(at: index)
        case 3: result.insert(UInt8.random(in: 0...255, using: &generator), at: index)
        case 4 where !result.isEmpty: result[index] = UInt8.random(in: 0...9, using: &generator)
        default:
            if result.count >= index + 2 {
                let boundary: UInt16 = [0, 1, 63, 64, 65, 255, 256, 1024, 1025, 0xFFFF].randomElement(
                    using: &generator
                )!
                result[index] = UInt8(boundary >> 8)
                result[index + 1] = UInt8(boundary & 0xFF)
            }
        }
    }
    return result
}
