import Testing
import Wire
import TestSupport

private func drain(_ reader: inout FrameReader) throws(WireError) -> [[UInt8]] {
    var bodies: [[UInt8]] = []
    while let body = try reader.nextBody() { bodies.append(body) }
    return bodies
}

private let stream: [UInt8] = sampleResponses.enumerated().flatMap { index, response in
    WireCodec.encodeResponse(response, id: UInt32(index))
}

private let expectedBodies: [[UInt8]] = sampleResponses.enumerated().map { index, response in
    body(WireCodec.encodeResponse(response, id: UInt32(index)))
}

@Test func frameReader_fedByteAtATime_givesTheSameBodiesAsOneBatch() throws {
    var batch = FrameReader(maximumBodyLength: WireProtocol.maximumResponseBodyLength)
    batch.append(stream)
    #expect(try drain(&batch) == expectedBodies)
    #expect(batch.bufferedByteCount == 0)

    var single = FrameReader(maximumBodyLength: WireProtocol.maximumResponseBodyLength)
    var bodies: [[UInt8]] = []
    for byte in stream {
        single.append([byte])
        bodies += try drain(&single)
    }
    #expect(bodies == expectedBodies)
    #expect(single.bufferedByteCount == 0)
}

@Test func frameReader_fedInRandomChunks_givesTheSameBodies() throws {
    var generator = SeededGenerator(seed: 7)
    for _ in 0..<20 {
        var reader = FrameReader(maximumBodyLength: WireProtocol.maximumResponseBodyLength)
        var bodies: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            let count = Int.random(in: 1...2000, using: &generator)
            reader.append(stream[offset..<min(offset + count, stream.count)])
            offset += count
            bodies += try drain(&reader)
        }
        #expect(bodies == expectedBodies)
    }
}

@Test func frameReader_refusesAnOversizedPrefix_beforeTheBodyArrives() {
    var reader = FrameReader(maximumBodyLength: WireProtocol.maximumRequestBodyLength)
    reader.append([0, 0, 0x04])
    #expect(throws: Never.self) { _ = try reader.nextBody() }
    reader.append([0x01])
    #expect(throws: WireError.self) { _ = try reader.nextBody() }
    do {
        _ = try reader.nextBody()
    } catch {
        #expect(error.code == .frameTooLarge)
    }
}

@Test func frameReader_refusesAPrefixBelowTheMinimum() throws {
    var reader = FrameReader(maximumBodyLength: WireProtocol.maximumRequestBodyLength)
    reader.append(WireCodec.encodeRequest(.userShow(user: "bob"), id: 1) + [0, 0, 0, 4, 1, 2, 3, 4])
    #expect(try reader.nextBody() == body(WireCodec.encodeRequest(.userShow(user: "bob"), id: 1)))
    do {
        _ = try reader.nextBody()
        Issue.record("a 4-byte body was accepted")
    } catch {
        #expect(error.code == .malformedRequest)
    }
}

@Test func frameReader_waitsForTheWholeBody() throws {
    let frameBytes = WireCodec.encodeRequest(.userShow(user: "bob"), id: 1)
    var reader = FrameReader(maximumBodyLength: WireProtocol.maximumRequestBodyLength)
    reader.append(frameBytes.dropLast())
    #expect(try reader.nextBody() == nil)
    #expect(reader.bufferedByteCount == frameBytes.count - 1)
    reader.append(frameBytes.suffix(1))
    #expect(try reader.nextBody() == body(frameBytes))
    #expect(try reader.nextBody() == nil)
}

@Test func frameReader_acceptsAFrameOfExactlyTheMaximum() throws {
    let maximumBody = [UInt8](repeating: 0x61, count: WireProtocol.maximumResponseBodyLength)
    var reader = FrameReader(maximumBodyLength: WireProtocol.maximumResponseBodyLength)
    reader.append(frame(maximumBody))
    #expect(try reader.nextBody() == maximumBody)
}
