import Testing
import Wire

@testable import Daemon

@Suite struct ConnectionStateMachineTests {
    let login = Request.login(user: "alice", password: Array("pw".utf8), codeKind: .none, code: "")

    private func ready() -> ConnectionStateMachine {
        var machine = ConnectionStateMachine(maximumQueued: 2)
        _ = machine.received(.request(id: 1, .hello(minVersion: 1, maxVersion: 1)))
        return machine
    }

    @Test func hello_negotiatesVersionOne() {
        var machine = ConnectionStateMachine()
        #expect(
            machine.received(.request(id: 9, .hello(minVersion: 1, maxVersion: 5)))
                == .respond(id: 9, .helloReply(version: 1))
        )
    }

    @Test func hello_withoutCommonVersion_closes() {
        var machine = ConnectionStateMachine()
        guard
            case .respondAndClose(9, .error(.unsupportedVersion, _)) = machine.received(
                .request(id: 9, .hello(minVersion: 2, maxVersion: 3))
            )
        else {
            Issue.record("expected unsupportedVersion and close")
            return
        }
        #expect(
            machine.received(.request(id: 10, .hello(minVersion: 1, maxVersion: 1))) == .none,
            "nothing after close"
        )
    }

    @Test func requestBeforeHello_isRefusedAndCloses() {
        var machine = ConnectionStateMachine()
        guard case .respondAndClose(4, .error(.helloRequired, _)) = machine.received(.request(id: 4, login)) else {
            Issue.record("expected helloRequired and close")
            return
        }
    }

    @Test func secondHello_closes() {
        var machine = ready()
        guard
            case .respondAndClose(2, .error(.unknownMessageType, _)) = machine.received(
                .request(id: 2, .hello(minVersion: 1, maxVersion: 1))
            )
        else {
            Issue.record("expected unknownMessageType and close, as docs/protocol.md says")
            return
        }
    }

    @Test func requests_runOneAtATime_inArrivalOrder() {
        var machine = ready()
        #expect(machine.received(.request(id: 2, login)) == .dispatch(id: 2, login))
        #expect(machine.received(.request(id: 3, .userShow(user: "b"))) == .none)
        #expect(machine.received(.request(id: 4, .userShow(user: "c"))) == .none)
        #expect(machine.requestFinished() == .dispatch(id: 3, .userShow(user: "b")))
        #expect(machine.requestFinished() == .dispatch(id: 4, .userShow(user: "c")))
        #expect(machine.requestFinished() == .none)
        #expect(machine.isIdle)
    }

    @Test func tooManyQueued_isRefusedInItsTurn_afterEveryEarlierAnswer() {
        var machine = ready()
        #expect(machine.received(.request(id: 2, login)) == .dispatch(id: 2, login))
        _ = machine.received(.request(id: 3, login))
        _ = machine.received(.request(id: 4, login))
        // The queue is full: 5 never runs, and nothing is answered or closed before 2, 3 and 4 are.
        #expect(machine.received(.request(id: 5, login)) == .none)
        #expect(machine.received(.request(id: 6, login)) == .none, "nothing after the refused one is taken")
        #expect(machine.requestFinished() == .dispatch(id: 3, login))
        #expect(machine.requestFinished() == .dispatch(id: 4, login))
        guard case .respondAndClose(5, .error(.busy, _)) = machine.requestFinished() else {
            Issue.record("expected busy for 5 and close, after the answers to 2, 3 and 4")
            return
        }
        #expect(machine.requestFinished() == .none)
    }

    @Test func reading_pausesWhileRequestsWait_andResumesWhenTheyRun() {
        var machine = ConnectionStateMachine(maximumQueued: 8)
        _ = machine.received(.request(id: 1, .hello(minVersion: 1, maxVersion: 1)))
        _ = machine.received(.request(id: 2, login))
        _ = machine.received(.request(id: 3, login))
        #expect(machine.wantsInput)
        _ = machine.received(.request(id: 4, login))
        #expect(!machine.wantsInput, "two waiting requests reach the pause threshold of 8 / 4")
        _ = machine.requestFinished()
        #expect(machine.wantsInput)
    }

    @Test func abandoned_whileARequestRuns_closesAtOnce_andRunsNothingThatWaits() {
        var machine = ready()
        #expect(machine.received(.request(id: 2, login)) == .dispatch(id: 2, login))
        #expect(machine.received(.request(id: 3, login)) == .none)
        #expect(machine.abandon() == .close)
        #expect(machine.requestFinished() == .none, "the queued login never runs")
        #expect(machine.received(.request(id: 4, login)) == .none)
        #expect(!machine.wantsInput)
        #expect(machine.abandon() == .none, "closed once")
    }

    @Test func malformedFrame_whileARequestRuns_isAnsweredAfterIt() {
        var machine = ready()
        _ = machine.received(.request(id: 2, login))
        let error = WireError(code: .malformedRequest, message: "trailing bytes")
        #expect(machine.received(.malformed(id: 3, error)) == .none)
        #expect(!machine.wantsInput)
        guard case .respondAndClose(3, .error(.malformedRequest, _)) = machine.requestFinished() else {
            Issue.record("expected the error for 3 after the answer to 2")
            return
        }
    }

    @Test func requestDuringDrain_whileARequestRuns_isRefusedAfterIt() {
        var machine = ready()
        _ = machine.received(.request(id: 2, login))
        #expect(machine.drain() == .none)
        #expect(machine.received(.request(id: 3, login)) == .none)
        guard case .respondAndClose(3, .error(.busy, _)) = machine.requestFinished() else {
            Issue.record("expected busy for 3 after the answer to 2")
            return
        }
    }

    @Test func malformedFrame_answersWithItsCodeAndCloses() {
        var machine = ready()
        let error = WireError(code: .unknownMessageType, message: "unknown message type 0x7e")
        guard case .respondAndClose(7, .error(.unknownMessageType, _)) = machine.received(.malformed(id: 7, error))
        else {
            Issue.record("expected the decoder's code and close")
            return
        }
    }

    @Test func drain_whenIdle_closesAtOnce() {
        var machine = ready()
        #expect(machine.drain() == .close)
    }

    @Test func drain_whileBusy_finishesQueuedWorkThenCloses() {
        var machine = ready()
        _ = machine.received(.request(id: 2, login))
        _ = machine.received(.request(id: 3, login))
        #expect(machine.drain() == .none)
        #expect(machine.requestFinished() == .dispatch(id: 3, login))
        #expect(machine.requestFinished() == .close)
    }
}
