import Logging
import NIOCore
import NIOPosix
import Wire

/// Sent down a connection's pipeline when the daemon stops: finish what is in flight, then close.
struct DrainEvent: Sendable {}

/// Drives one connection's `ConnectionStateMachine` and runs its requests on the worker pool.
/// It also holds back reads while the machine wants no input, so a pipelining peer waits on its socket.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var state: ConnectionStateMachine
    private let peer: PeerCredentials
    private let dispatcher: Dispatcher
    private let workers: WorkerPool
    private let logger: Logger
    /// A read the channel asked for while the machine wanted no input; issued when it does again.
    private var readWithheld = false

    init(peer: PeerCredentials, dispatcher: Dispatcher, workers: WorkerPool, maximumQueued: Int, logger: Logger) {
        self.state = ConnectionStateMachine(maximumQueued: maximumQueued)
        self.peer = peer
        self.dispatcher = dispatcher
        self.workers = workers
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .malformed(_, let error) = frame {
            logger.warning("malformed request", metadata: ["peer-pid": "\(peer.pid)", "error": "\(error)"])
        }
        perform(state.received(frame), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is DrainEvent:
            perform(state.drain(), context: context)
        case let idle as IdleStateHandler.IdleStateEvent where idle == .read:
            if state.isIdle { context.close(promise: nil) }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func read(context: ChannelHandlerContext) {
        guard state.wantsInput else {
            readWithheld = true
            return
        }
        context.read()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Decoder overflow or a socket error: nothing sensible can be answered any more.
        logger.debug("connection error", metadata: ["peer-pid": "\(peer.pid)", "error": "\(error)"])
        context.close(promise: nil)
    }

    private func perform(_ action: ConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .respond(let id, let response):
            write(response, id: id, context: context)
        case .respondAndClose(let id, let response):
            let channel = context.channel
            write(response, id: id, context: context).whenComplete { _ in channel.close(promise: nil) }
        case .close:
            context.close(promise: nil)
        case .dispatch(let id, let request):
            dispatch(request, id: id, context: context)
        }
    }

    private func dispatch(_ request: Request, id: UInt32, context: ChannelHandlerContext) {
        let dispatcher = self.dispatcher
        let peer = self.peer
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        workers.run(on: context.eventLoop) {
            dispatcher.handle(request, from: peer)
        }.whenComplete { result in
            let (handler, context) = loopBound.value
            let response: Response
            switch result {
            case .success(let answer): response = answer
            case .failure(let error as WorkerPool.Overloaded):
                response = .error(code: .busy, message: error.description)
            case .failure:
                response = .error(code: .internalError, message: "the daemon is stopping: try again shortly")
            }
            handler.write(response, id: id, context: context).whenComplete { _ in
                let (handler, context) = loopBound.value
                handler.perform(handler.state.requestFinished(), context: context)
                handler.resumeReadingIfWanted(context: context)
            }
        }
    }

    private func resumeReadingIfWanted(context: ChannelHandlerContext) {
        guard readWithheld, state.wantsInput else { return }
        readWithheld = false
        context.read()
    }

    @discardableResult
    private func write(_ response: Response, id: UInt32, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        let bytes = WireCodec.encodeResponse(response, id: id)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return context.writeAndFlush(wrapOutboundOut(buffer))
    }
}
