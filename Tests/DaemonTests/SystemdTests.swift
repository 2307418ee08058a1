import Glibc
import Logging
import TestSupport
import Testing

@testable import Daemon

@Suite struct SystemdNotifierTests {
    @Test func send_deliversOneDatagramPerCall_toAPathOrAnAbstractSocket() {
        let directory = TemporaryDirectory()
        for path in [directory.path + "/notify", "@twofactord-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"] {
            let receiver = DatagramReceiver(path: path)
            let notifier = SystemdNotifier(environment: path)
            #expect(notifier.send("READY=1\nSTATUS=Serving"))
            #expect(notifier.send("WATCHDOG=1"))
            #expect(receiver.receive() == "READY=1\nSTATUS=Serving")
            #expect(receiver.receive() == "WATCHDOG=1")
        }
    }

    @Test func send_withoutNotifySocket_doesNothing() {
        #expect(!SystemdNotifier(environment: nil).send("READY=1"))
        #expect(!SystemdNotifier(environment: "").send("READY=1"))
        #expect(!SystemdNotifier(environment: "relative/path").send("READY=1"))
    }

    @Test func watchdogInterval_isHalfOfWatchdogUsec_forThisProcessOnly() {
        #expect(SystemdNotifier.watchdogInterval(usec: "30000000", pid: nil) == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(usec: "30000000", pid: "\(getpid())") == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(usec: "30000000", pid: "\(getpid() + 1)") == nil)
        #expect(SystemdNotifier.watchdogInterval(usec: nil, pid: nil) == nil)
        #expect(SystemdNotifier.watchdogInterval(usec: "0", pid: nil) == nil)
        #expect(SystemdNotifier.watchdogInterval(usec: "soon", pid: nil) == nil)
    }
}

@Suite struct DaemonLogHandlerTests {
    @Test(arguments: [
        (Logger.Level.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func journalLines_startWithTheSyslogPriority(level: Logger.Level, priority: Int) {
        let line = DaemonLogHandler.format(level: level, message: "login", metadata: ["user": "alice"], journal: true)
        #expect(line == "<\(priority)>login user=alice\n")
    }

    @Test func terminalLines_startWithTimeAndLevel() {
        let line = DaemonLogHandler.format(level: .notice, message: "listening", metadata: [:], journal: false)
        #expect(line.hasSuffix("Z notice: listening\n"))
        #expect(line.count == "2026-11-29T08:00:00Z notice: listening\n".count)
    }

    @Test func aNewlineInAMessageOrValue_cannotForgeASecondLine() {
        let line = DaemonLogHandler.format(
            level: .info,
            message: "login denied\n<2>forged",
            metadata: ["user": "eve\n<0>root ok", "b": "1"],
            journal: true
        )
        #expect(line == "<6>login denied\\n<2>forged b=1 user=eve\\n<0>root ok\n")
        #expect(line.filter { $0 == "\n" }.count == 1)
    }

    @Test func threshold_isSharedAndChangesWhileRunning() {
        let threshold = DaemonLogHandler.Threshold(.info)
        var handler = DaemonLogHandler(threshold: threshold, journal: true)
        #expect(handler.logLevel == .info)
        threshold.current = .debug
        #expect(handler.logLevel == .debug)
        handler.logLevel = .error
        #expect(threshold.current == .error)
    }
}
