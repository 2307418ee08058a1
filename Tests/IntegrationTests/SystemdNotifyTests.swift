import Foundation
import Glibc
import TestSupport
import Testing

/// Type=notify without systemd: the test plays systemd's notification socket and reads what the
/// real daemon sends over a whole life, and checks the journal's priority prefixes.
@Suite struct SystemdNotifyTests {
    @Test func daemon_notifiesReadyWatchdogAndStopping() throws {
        let daemon = try DaemonProcess()
        let receiver = DatagramReceiver(path: daemon.directory.appendingPathComponent("notify").path)
        // 200 ms: the daemon must ping every 100 ms.
        try daemon.start(environment: ["NOTIFY_SOCKET": receiver.path, "WATCHDOG_USEC": "200000"])

        var messages: [String] = []
        while messages.filter({ $0 == "WATCHDOG=1" }).count < 3, let message = receiver.receive() {
            messages.append(message)
        }
        let ready = try #require(messages.first { $0.contains("READY=1") }, "\(messages)")
        #expect(ready.contains("STATUS=Serving on \(daemon.socketPath)"))
        #expect(messages.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(messages)")

        #expect(daemon.stop() == 0)
        var stopping: String?
        while stopping == nil, let message = receiver.receive(timeoutSeconds: 5) {
            if message.contains("STOPPING=1") { stopping = message }
        }
        #expect(stopping?.contains("STATUS=Finishing requests in flight") == true, "\(String(describing: stopping))")
    }

    @Test func daemon_withoutWatchdogUsec_sendsNoPings() throws {
        let daemon = try DaemonProcess()
        let receiver = DatagramReceiver(path: daemon.directory.appendingPathComponent("notify").path)
        try daemon.start(environment: ["NOTIFY_SOCKET": receiver.path])
        #expect(receiver.receive()?.contains("READY=1") == true)
        #expect(receiver.receive(timeoutSeconds: 1) == nil)
    }

    @Test func daemon_underJournald_prefixesThePriority() throws {
        let daemon = try DaemonProcess()
        try daemon.start(environment: ["JOURNAL_STREAM": "8:12345"])
        #expect(daemon.stop() == 0)
        let lines = daemon.log().split(separator: "\n")
        #expect(
            lines.contains { $0.hasPrefix("<5>listening ") && $0.contains(" socket=\(daemon.socketPath)") },
            "\(lines)"
        )
        #expect(lines.allSatisfy { $0.hasPrefix("<") }, "\(lines)")
    }
}
