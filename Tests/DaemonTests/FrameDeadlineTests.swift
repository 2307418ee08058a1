import NIOCore
import NIOEmbedded
import Testing
import Wire

@testable import Daemon

@Suite struct FrameDeadlineTests {
    let frame = WireCodec.encodeRequest(.userShow(user: "alice"), id: 2)

    @Test func tracker_isMidFrame_fromTheFirstByteUntilTheLast() {
        var tracker = FrameBoundaryTracker()
        #expect(!tracker.isMidFrame)
        tracker.consume(frame.prefix(1))
        #expect(tracker.isMidFrame, "inside the length prefix")
        tracker.consume(frame.dropFirst().dropLast())
        #expect(tracker.isMidFrame, "one byte short")
        tracker.consume(frame.suffix(1))
        #expect(!tracker.isMidFrame)
        tracker.consume(frame + frame.prefix(6))
        #expect(tracker.isMidFrame, "a whole frame, then the start of the next")
    }

    @Test func tracker_stopsAtALengthOutOfRange() {
        var tracker = FrameBoundaryTracker()
        tracker.consume([0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3])
        #expect(tracker.broken && !tracker.isMidFrame, "the decoder refuses the frame; nothing to wait for")
    }

    @Test func handler_raisesExpired_onlyForAStartedFrame_andNotWhileReadsAreHeldBack() throws {
        let channel = EmbeddedChannel()
        let events = EventRecorder()
        try channel.pipeline.syncOperations.addHandlers([FrameDeadlineHandler(deadline: .seconds(5)), events])
        let loop = channel.embeddedEventLoop

        try channel.writeInbound(ByteBuffer(bytes: frame))
        loop.advanceTime(by: .seconds(6))
        #expect(events.expired == 0, "a whole frame starts no deadline")

        try channel.writeInbound(ByteBuffer(bytes: frame.prefix(3)))
        loop.advanceTime(by: .seconds(6))
        #expect(events.expired == 0, "no read was asked for since: the connection holds back reads")

        channel.read()
        loop.advanceTime(by: .seconds(6))
        #expect(events.expired == 1)
        _ = try channel.finish()
    }
}

/// Counts `FrameDeadlineExpired` events.
private final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var expired = 0

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is FrameDeadlineExpired { expired += 1 }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
