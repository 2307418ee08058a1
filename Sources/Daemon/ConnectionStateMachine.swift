import Wire

// MUSTs of a connection:
// - nothing but Hello is served before Hello succeeded;
// - requests are answered one at a time, in the order they arrived;
// - a malformed frame is answered with an error and the connection is closed: no later frame is read;
// - at most `maximumQueued` requests wait behind the one in flight; one more closes the connection.

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
        case closed
    }

    private var phase = Phase.awaitingHello
    private var inFlight = false
    private var draining = false
    private var queue: [(id: UInt32, request: Request)] = []
    let maximumQueued: Int

    init(maximumQueued: Int = 8) {
        self.maximumQueued = maximumQueued
    }

    var isIdle: Bool { !inFlight && queue.isEmpty }

    mutating func received(_ frame: InboundFrame) -> Action {
        switch (phase, frame) {
        case (.closed, _):
            return .none
        case (_, .malformed(let id, let error)):
            return closing(id: id, code: error.code, error.description)
        case (.awaitingHello, .request(let id, .hello(let minVersion, let maxVersion))):
            let version = WireProtocol.currentVersion
            guard minVersion <= version, version <= maxVersion else {
                return closing(
                    id: id,
                    code: .unsupportedVersion,
                    "this twofactord speaks protocol version \(version) only; the client asked for \(minVersion)...\(maxVersion)"
                )
            }
            phase = .ready
            return .respond(id: id, .helloReply(version: version))
        case (.awaitingHello, .request(let id, _)):
            return closing(id: id, code: .helloRequired, "send Hello first: see docs/protocol.md")
        case (.ready, .request(let id, .hello)):
            return closing(id: id, code: .unknownMessageType, "Hello was already sent on this connection")
        case (.ready, .request(let id, let request)):
            guard !draining else {
                return closing(id: id, code: .busy, "the daemon is shutting down: try again shortly")
            }
            if !inFlight {
                inFlight = true
                return .dispatch(id: id, request)
            }
            guard queue.count < maximumQueued else {
                return closing(id: id, code: .busy, "too many requests in flight on one connection: wait for answers")
            }
            queue.append((id, request))
            return .none
        }
    }

    /// The answer to the dispatched request was written.
    mutating func requestFinished() -> Action {
        guard phase == .ready else { return .none }
        inFlight = false
        if !queue.isEmpty {
            let next = queue.removeFirst()
            inFlight = true
            return .dispatch(id: next.id, next.request)
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
        guard phase != .closed, isIdle else { return .none }
        phase = .closed
        return .close
    }

    private mutating func closing(id: UInt32, code: ErrorCode, _ message: String) -> Action {
        phase = .closed
        queue.removeAll()
        return .respondAndClose(id: id, .error(code: code, message: message))
    }
}
