import NIOCore
import Wire

// MUSTs of the request deadline:
// - once the first byte of a frame is read, the whole frame must be read within the deadline, or
//   the connection ends: what is in flight is answered, then it closes (the idle timeout alone
//   lets a peer hold a connection for ever by sending a byte now and then);
// - time during which the connection itself does not read (backpressure) does not count;
// - a length prefix out of range ends tracking: the decoder refuses that frame anyway.

/// Where the byte stream stands relative to frame boundaries, as a value: bytes in, state out.
struct FrameBoundaryTracker: Sendable, Equatable {
    private var header: [UInt8] = []
    private var remainingBody = 0
    private(set) var broken = false

    /// Whether a frame has started and not ended.
    var isMidFrame: Bool { !broken && (!header.isEmpty || remainingBody > 0) }

    mutating func consume(_ bytes: some Collection<UInt8>) {
        var index = bytes.startIndex
        while index != bytes.endIndex, !broken {
            if remainingBody > 0 {
                let take = min(remainingBody, bytes.distance(from: index, to: bytes.endIndex))
                remainingBody -= take
                index = bytes.index(index, offsetBy: take)
                continue
            }
            header.append(bytes[index])
            index = bytes.index(after: index)
            guard header.count == WireProtocol.headerLength else { continue }
            let length = header.reduce(0) { $0 << 8 | Int($1) }
            header.removeAll()
            guard (WireProtocol.minimumBodyLength...WireProtocol.maximumRequestBodyLength).contains(length) else {
                broken = true
                return
            }
            remainingBody = length
        }
    }
}

/// Sent up the pipeline when a frame was not read whole in time.
struct FrameDeadlineExpired: Sendable {}

/// Watches the bytes ahead of the frame decoder and raises `FrameDeadlineExpired` when a started
/// frame is not complete within `deadline` of reading time.
final class FrameDeadlineHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let deadline: TimeAmount
    private var tracker = FrameBoundaryTracker()
    private var timer: Scheduled<Void>?
    /// Whether a read passed here since the last data: false while the connection holds back reads.
    private var readRequested = false

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        tracker.consume(unwrapInboundIn(data).readableBytesView)
        readRequested = false
        if !tracker.isMidFrame {
            timer?.cancel()
            timer = nil
        } else if timer == nil {
            arm(context: context)
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        readRequested = true
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func arm(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: deadline) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            guard handler.tracker.isMidFrame else { return }
            if handler.readRequested {
                context.fireUserInboundEventTriggered(FrameDeadlineExpired())
            } else {
                // The connection is not reading (backpressure): that time is ours, not the peer's.
                handler.arm(context: context)
            }
        }
    }
}
