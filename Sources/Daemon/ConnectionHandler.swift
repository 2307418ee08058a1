import Logging
import NIOCore
import NIOPosix
import PasswordHashing
import Wire

/// Sent down a connection's pipeline when the daemon stops: finish what is in flight, then close.
struct DrainEvent: Sendable {}

/// Drives one connection's `ConnectionStateMachine` and runs its requests on the worker pool.
/// It also holds back reads while the machine wants no input, so a pipelining peer waits on its socket.
///
/// A request's answer is written before the next request runs, so the daemon holds at most one unwritten
/// answer per connection; a peer that leaves its answers unread past `answerDeadline` (its socket's buffer full)
/// is closed, or it would keep the connection, and the answer and socket buffers it pins, for ever: a
/// connection with an answer in flight never counts as idle.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var state: ConnectionStateMachine
    /// The account a Login answered `ok` made this connection act for. Requests run one at a time per
    /// connection, so the worker that runs one request sees the session the previous one left.
    private var session = Session()
    private let peer: PeerCredentials
    /// The peer's uid and operator status, decided when the connection was accepted.
    private let holder: ShareHolder
    private let dispatcher: Dispatcher
    private let workers: WorkerPool
    /// Where the connection's place is held, and whom it is charged to now (a login root carries for an invoker
    /// charges it to the invoker: `ShareHolder.charged`).
    private let connections: ConnectionRegistry
    private var placeHolder: ShareHolder
    private let logger: Logger
    private let refusals: RefusalLog
    /// A read the channel asked for while the machine wanted no input; issued when it does again.
    private var readWithheld = false
    /// How long the peer may leave a written answer unread (the request deadline).
    private let answerDeadline: TimeAmount
    /// Answers handed to the socket and not yet taken by the kernel, and the deadline for the oldest of them.
    private var unwrittenAnswers = 0
    private var unreadAnswerTimer: Scheduled<Void>?

    init(
        peer: PeerCredentials,
        holder: ShareHolder,
        dispatcher: Dispatcher,
        workers: WorkerPool,
        connections: ConnectionRegistry,
        maximumQueued: Int,
        answerDeadline: TimeAmount,
        logger: Logger,
        refusals: RefusalLog
    ) {
        self.state = ConnectionStateMachine(maximumQueued: maximumQueued)
        self.peer = peer
        self.holder = holder
        self.dispatcher = dispatcher
        self.workers = workers
        self.connections = connections
        self.placeHolder = holder
        self.answerDeadline = answerDeadline
        self.logger = logger
        self.refusals = refusals
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .malformed(_, let error) = frame {
            PeerLogContext.$current.withValue(holder) {
                logger.warning(
                    "malformed request",
                    metadata: ["peer-pid": "\(peer.pid)", "peer-uid": "\(peer.uid)", "error": "\(error)"]
                )
            }
        }
        perform(state.received(frame), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is DrainEvent:
            perform(state.drain(), context: context)
        case is FrameDeadlineExpired:
            // A peer trickling a frame: answer what it sent in time, then close.
            PeerLogContext.$current.withValue(holder) {
                logger.notice("request not sent in time: closing", metadata: ["peer-pid": "\(peer.pid)"])
            }
            perform(state.drain(), context: context)
        case ChannelEvent.inputClosed:
            // The peer sent all it will send (shutdown(SHUT_WR)): answer what it sent, then close.
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

    func handlerRemoved(context: ChannelHandlerContext) {
        unreadAnswerTimer?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // No answer can reach the peer any more: what waits behind the request in flight must not run for no one,
        // or a peer could pipeline a queue of logins, close, and start again with the place the close gave back.
        _ = state.abandon()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Decoder overflow or a socket error: nothing sensible can be answered any more.
        PeerLogContext.$current.withValue(holder) {
            logger.debug("connection error", metadata: ["peer-pid": "\(peer.pid)", "error": "\(error)"])
        }
        context.close(promise: nil)
    }

    private func perform(_ action: ConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .respond(let id, let response):
            write(response, id: id, context: context)
        case .respondAndClose(let id, let response):
            if case .error(.busy, let message) = response {
                refusals.refused(holder, "a request (busy, connection closed)", reason: message)
            }
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
        let holder = self.holder.charged(for: request)
        if holder != placeHolder {
            if let refusal = connections.charge(context.channel, to: holder) {
                refusals.refused(holder, "a connection (busy, closed)", because: refusal)
                let channel = context.channel
                let refused = RefusedConnectionHandler.response(for: refusal)
                write(refused, id: id, context: context).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            placeHolder = holder
        }
        let session = self.session
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        // Every line the request causes is charged to the peer (see RateLimitedLogHandler).
        // A code check's outcome may come from the store's writer thread; it is logged here, on the event loop.
        // Its password hashes wait for a slot in the uid's turn (`HashSlots`), not behind every hash queued before.
        workers.run(on: context.eventLoop, for: holder) { answer in
            PeerLogContext.$current.withValue(holder) {
                PasswordHasher.slotOwner.withValue(holder.uid) {
                    dispatcher.handle(request, from: peer, session: session) { answered in answer(answered) }
                }
            }
        }.whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(let answered):
                let answer = PeerLogContext.$current.withValue(holder) { answered() }
                handler.session = answer.session
                handler.answer(answer.response, id: id, context: context)
            case .failure(let error as WorkerPool.Overloaded):
                handler.refusals.refused(holder, "a request (busy)", because: error.refusal)
                // A refusal costs the daemon nothing, so a peer retrying at once would spin both
                // sides: its connection waits a moment for the answer (and so for its next request).
                context.eventLoop.scheduleTask(in: Self.busyAnswerDelay) {
                    let (handler, context) = loopBound.value
                    let refused = error.refusal.response(
                        tooMany:
                            "too many requests of this user are running or waiting: try again once they are answered",
                        busy: error.description
                    )
                    handler.answer(refused, id: id, context: context)
                }
            case .failure:
                let stopping = Response.error(
                    code: .internalError,
                    message: "the daemon is stopping: try again shortly"
                )
                handler.answer(stopping, id: id, context: context)
            }
        }
    }

    static let busyAnswerDelay = TimeAmount.milliseconds(100)

    /// Writes the answer to the request in flight, then lets the machine take the next one.
    private func answer(_ response: Response, id: UInt32, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        write(response, id: id, context: context).whenComplete { _ in
            let (handler, context) = loopBound.value
            handler.perform(handler.state.requestFinished(), context: context)
            handler.resumeReadingIfWanted(context: context)
        }
    }

    private func resumeReadingIfWanted(context: ChannelHandlerContext) {
        guard readWithheld, state.wantsInput else { return }
        readWithheld = false
        context.read()
    }

    @discardableResult
    private func write(_ response: Response, id: UInt32, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        var bytes = WireCodec.encodeResponse(response, id: id)
        if bytes.count - WireProtocol.headerLength > WireProtocol.maximumResponseBodyLength {
            // A bug, never a client's doing: the client would refuse the frame and close, so say so instead.
            logger.error("response too large for one frame", metadata: ["type": "\(response.type)"])
            bytes = WireCodec.encodeResponse(
                .error(code: .internalError, message: "the answer did not fit in one frame: see the daemon's log"),
                id: id
            )
        }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let written = context.writeAndFlush(wrapOutboundOut(buffer))
        unwrittenAnswers += 1
        if unreadAnswerTimer == nil { armUnreadAnswerTimer(context: context) }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        written.whenComplete { _ in
            let (handler, context) = loopBound.value
            handler.unwrittenAnswers -= 1
            // The peer took an answer: the next one gets a deadline of its own.
            handler.unreadAnswerTimer?.cancel()
            handler.unreadAnswerTimer = nil
            if handler.unwrittenAnswers > 0 { handler.armUnreadAnswerTimer(context: context) }
        }
        return written
    }

    private func armUnreadAnswerTimer(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        unreadAnswerTimer = context.eventLoop.scheduleTask(in: answerDeadline) {
            let (handler, context) = loopBound.value
            handler.unreadAnswerTimer = nil
            guard handler.unwrittenAnswers > 0 else { return }
            PeerLogContext.$current.withValue(handler.holder) {
                handler.logger.notice(
                    "answers not read in time: closing",
                    metadata: ["peer-pid": "\(handler.peer.pid)"]
                )
            }
            handler.perform(handler.state.abandon(), context: context)
        }
    }
}

extension ShareRefusal {
    /// A full share is its holder's own load (for a request charged to a privileged client's invoker, the invoker's),
    /// which no client may take for an outage: a PAM stack that lets logins on while the daemon is unavailable
    /// would let a user skip the second factor of `su` by keeping their own share full.
    func response(tooMany: String, busy: String) -> Response {
        switch self {
        case .peerShareExhausted: .error(code: .tooManyRequests, message: tooMany)
        case .full: .error(code: .busy, message: busy)
        }
    }
}
