import NIOCore
import NIOTestUtils
import Testing
import Wire

@testable import Daemon

@Suite struct RequestFrameDecoderTests {
    let requests: [(UInt32, Request)] = [
        (1, .hello(minVersion: 1, maxVersion: 1)),
        (2, .login(user: "alice", password: Array("pw".utf8), codeKind: .totp, code: "123456")),
        (3, .userList(organization: "", after: "", limit: 50)),
    ]

    @Test func decoder_byteAtATimeAndBatched_yieldSameRequests() throws {
        let pairs = requests.map { id, request -> (ByteBuffer, [InboundFrame]) in
            (ByteBuffer(bytes: WireCodec.encodeRequest(request, id: id)), [.request(id: id, request)])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { RequestFrameDecoder() }
    }

    @Test func decoder_hugeLength_isMalformedBeforeAnyBodyArrives() throws {
        var decoder = RequestFrameDecoder()
        var buffer = ByteBuffer(bytes: [0x00, 0x10, 0x00, 0x00])
        guard case .malformed(0, let error)? = try decoder.decode(buffer: &buffer) else {
            Issue.record("a length over the limit must be refused at once")
            return
        }
        #expect(error.code == .frameTooLarge)
    }

    @Test func decoder_badBody_keepsRequestIDForTheAnswer() throws {
        var decoder = RequestFrameDecoder()
        var buffer = ByteBuffer(bytes: [0, 0, 0, 5, 0x7E, 0, 0, 0x01, 0x02])
        guard case .malformed(0x0102, let error)? = try decoder.decode(buffer: &buffer) else {
            Issue.record("expected a malformed frame carrying id 0x0102")
            return
        }
        #expect(error.code == .unknownMessageType)
        var more = ByteBuffer(bytes: WireCodec.encodeRequest(.userShow(user: "a"), id: 3))
        #expect(try decoder.decode(buffer: &more) == nil, "nothing is decoded after a malformed frame")
    }
}
