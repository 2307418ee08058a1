import Wire

// MUSTs of a connection:
// - nothing but Hello is served before Hello succeeded;
// - requests run one at a time, in the order they arrived, and every request that ran is answered,
//   in that order, before any later answer and before the connection closes;
// - a frame that ends the connection (malformed, a second Hello, a request past the queue bound or
//   during shutdown) never runs: it is answered in its turn, after everything ahead of it, and then
//   the connection closes; no frame after it runs or is answered;
// - at most `maximumQueued` requests wait behind the one in flight; reading pauses once
//   `readPauseThreshold` wait, so a well-behaved pipelining client is slowed by its socket, not refused;
// - once the peer is given up on (it did not take an answer in time), nothing more runs or is answered.

/// The life of one client connection as a value: events in, actions out, no I/O.
struct ConnectionStateMachine {
    enum Action: Equatable {
        case none
        case respond(id: UInt32, Response)
        case respondAndClose(id: UInt32, Response)
        /// Run the request off the event loop; call `requestFinished()` once its answer is written.
        case dispatch(id: UInt32, Request)
        case close
    }

    private enum Phase {
        case awaitingHello
        case ready
        /// The last answer is queued behind the requests ahead of it; nothing more is read.
        case closing
        case closed
    }

    private enum Entry {
        case run(id: UInt32, Request)
        case last(id: UInt32, Response)
    }

    private var phase = Phase.awaitingHello
    private var inFlight = false
    private var draining = false
    private var queue: [Entry] = []
    let maximumQueued: Int
    let readPauseThreshold: Int

    init(maximumQueued: Int = 32) {
        self.maximumQueued = max(1, maximumQueued)
        self.readPauseThreshold = max(1, maximumQueued / 4)
    }

    var isIdle: Bool { !inFlight && queue.isEmpty }

    /// Whether the connection should read more from its socket now. False while enough requests
    /// wait (backpressure) and once the connection is ending.
    var wantsInput: Bool {
        switch phase {
        case .awaitingHello, .ready: queue.count < readPauseThreshold
        case .closing, .closed: false
        }
    }

    mutating func received(_ frame: InboundFrame) -> Action {
        switch (phase, frame) {
        case (.closed, _), (.closing, _):
            return .none
        case (_, .malformed(let id, let error)):
            return finish(id: id, .error(code: error.code, message: error.description))
        case (.awaitingHello, .request(let id, .hello(let minVersion, let maxVersion))):
            let version = WireProtocol.currentVersion
            guard minVersion <= version, version <= maxVersion else {
                return finish(
                    id: id,
                    .error(
                        code: .unsupportedVersion,
                        message:
                            "this twofactord speaks protocol version \(version) only; the client asked for \(minVersion)...\(maxVersion)"
                    )
                )
            }
            phase = .ready
            return .respond(id: id, .helloReply(version: version))
        case (.awaitingHello, .request(let id, _)):
            return finish(id: id, .error(code: .helloRequired, message: "send Hello first: see docs/protocol.md"))
        case (.ready, .request(let id, .hello)):
            return finish(
                id: id,
                .error(code: .unknownMessageType, message: "Hello was already sent on this connection")
            )
        case (.ready, .request(let id, let request)):
            guard !draining else {
                return finish(id: id, .error(code: .busy, message: "the daemon is shutting down: try again shortly"))
            }
            if !inFlight {
                inFlight = true
                return .dispatch(id: id, request)
            }
            guard queue.count < maximumQueued else {
                return finish(
                    id: id,
                    .error(code: .busy, message: "too many requests in flight on one connection: wait for answers")
                )
            }
            queue.append(.run(id: id, request))
            return .none
        }
    }

    /// The answer to the dispatched request was written.
    mutating func requestFinished() -> Action {
        guard phase == .ready || phase == .closing else { return .none }
        inFlight = false
        if !queue.isEmpty {
            switch queue.removeFirst() {
            case .run(let id, let request):
                inFlight = true
                return .dispatch(id: id, request)
            case .last(let id, let response):
                phase = .closed
                return .respondAndClose(id: id, response)
            }
        }
        if draining {
            phase = .closed
            return .close
        }
        return .none
    }

    /// The daemon is stopping: finish what is in flight or queued, then close.
    mutating func drain() -> Action {
        draining = true
        guard phase == .awaitingHello || phase == .ready, isIdle else { return .none }
        phase = .closed
        return .close
    }

    /// The peer left its answers unread past the deadline: the connection closes now, and nothing that waits runs.
    mutating func abandon() -> Action {
        guard phase != .closed else { return .none }
        phase = .closed
        queue.removeAll()
        return .close
    }

    /// Ends the connection with `response`: at once when nothing runs, else in its turn.
    private mutating func finish(id: UInt32, _ response: Response) -> Action {
        guard inFlight else {
            phase = .closed
            return .respondAndClose(id: id, response)
        }
        phase = .closing
        queue.append(.last(id: id, response))
        return .none
    }
}
