import Testing
import Wire
import TestSupport

// Property checked on every input: the decoders either throw or return a message that encodes
// back to exactly the same body, because version 1 has one encoding per message.

private func checkRequest(_ bytes: [UInt8]) {
    guard let (id, request) = try? WireCodec.decodeRequest(body: bytes) else { return }
    #expect(Array(WireCodec.encodeRequest(request, id: id).dropFirst(4)) == bytes)
}

private func checkResponse(_ bytes: [UInt8]) {
    guard let (id, response) = try? WireCodec.decodeResponse(body: bytes) else { return }
    #expect(Array(WireCodec.encodeResponse(response, id: id).dropFirst(4)) == bytes)
}

private func mutate(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
    var result = bytes
    for _ in 0..<Int.random(in: 1...4, using: &generator) {
        switch Int.random(in: 0..<5, using: &generator) {
        case 0 where !result.isEmpty:
            result[Int.random(in: 0..<result.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
        case 1 where !result.isEmpty:
            let index = Int.random(in: 0..<result.count, using: &generator)
            result[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
        case 2 where !result.isEmpty:
            result.remove(at: Int.random(in: 0..<result.count, using: &generator))
        case 3:
            result.insert(
                UInt8.random(in: 0...255, using: &generator),
                at: Int.random(in: 0...result.count, using: &generator)
            )
        default:
            // Small values in length fields and enums are where the interesting boundaries are.
            if !result.isEmpty {
                result[Int.random(in: 0..<result.count, using: &generator)] = UInt8.random(in: 0...9, using: &generator)
            }
        }
    }
    return result
}

@Test func fuzz_randomBodies_neverCrashTheDecoders() {
    var generator = SeededGenerator(seed: 0x7F_AD01)
    let types = MessageType.allCases.map(\.rawValue)
    for _ in 0..<5000 {
        var bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in
            UInt8.random(in: 0...255, using: &generator)
        }
        if !bytes.isEmpty, Bool.random(using: &generator) { bytes[0] = types.randomElement(using: &generator)! }
        checkRequest(bytes)
        checkResponse(bytes)
    }
}

@Test func fuzz_mutatedValidBodies_decodeToTheSameBytesOrThrow() {
    var generator = SeededGenerator(seed: 20_240_601)
    let requests = sampleRequests.map { body(WireCodec.encodeRequest($0, id: 3)) }
    let responses = sampleResponses.filter { $0.type != .userListReply }.map {
        body(WireCodec.encodeResponse($0, id: 3))
    }
    var decoded = 0
    for _ in 0..<5000 {
        let request = mutate(requests.randomElement(using: &generator)!, using: &generator)
        if (try? WireCodec.decodeRequest(body: request)) != nil { decoded += 1 }
        checkRequest(request)
        checkResponse(mutate(responses.randomElement(using: &generator)!, using: &generator))
    }
    // Mutations of the id or of a string's bytes keep a body valid, so a share must decode;
    // zero would mean the fuzzer only exercises the first check.
    #expect(decoded > 100)
}

@Test func fuzz_randomStreams_neverCrashTheFrameReader() {
    var generator = SeededGenerator(seed: 99)
    for _ in 0..<500 {
        var reader = FrameReader(maximumBodyLength: WireProtocol.maximumRequestBodyLength)
        var bytes: [UInt8] = []
        for _ in 0..<Int.random(in: 1...5, using: &generator) {
            bytes += mutate(
                WireCodec.encodeRequest(sampleRequests.randomElement(using: &generator)!, id: 1),
                using: &generator
            )
        }
        reader.append(bytes)
        while true {
            guard let body = try? reader.nextBody() else { break }
            #expect(body.count >= WireProtocol.minimumBodyLength && body.count <= WireProtocol.maximumRequestBodyLength)
            checkRequest(body)
        }
    }
}
