import Foundation
import Testing

// A stranger who knows account names turns an organization's part of the audit trail over with denied logins: 5
// at once per account from its uid, then as the throttle allows (34 a day per account). One uid's denials in one
// organization are audited at most `AccountLimits.denialRecordsPerOrigin` an hour; the rest are counted
// (docs/security.md, "Denied logins cannot turn the trail over").
@Suite(.enabled(if: runningAsRoot, "the flood runs as nobody, through setpriv; CI runs the tests as root"))
struct AuditFloodTests {
    @Test func deniedLoginsFromOneUid_cannotPushAnOperatorsRecordOutOfTheTrail() throws {
        let daemon = try DaemonProcess()
        // Room for the 13 records below and 27 more.
        try daemon.start(extraArguments: ["--audit-max-records", "40"])
        let names = (0..<12).map { "agent\($0)" }
        for name in names {
            let added = try daemon.ctl(["user", "add", name, "--password-stdin"], input: "pass-\(name)\n")
            #expect(added.status == 0, "\(added.standardError)")
        }
        let forced = try daemon.ctl(["2fa", "force", "agent0"])
        #expect(forced.status == 0, "\(forced.standardError)")

        // Each account's 5 free failures from nobody: 60 denied logins, in two steps as the client makes them.
        for _ in 0..<5 {
            for name in names {
                let login = try daemon.login(name, password: "wrong", code: "123456", uid: nobodyUID)
                #expect(login.status != 0)
            }
        }

        let trail = try daemon.ctl(["audit", "--limit", "100"])
        #expect(trail.status == 0, "\(trail.standardError)")
        let lines = trail.standardOutput.split(separator: "\n")
        #expect(lines.contains { $0.contains(" force ") && $0.contains("agent0") }, "\(trail.standardOutput)")
        #expect(lines.filter { $0.contains(" denied ") }.count == 20, "\(trail.standardOutput)")
        #expect(
            trail.standardOutput.contains("(the last from uid \(nobodyUID) audited this hour: later ones are counted)"),
            "\(trail.standardOutput)"
        )
    }

    /// Past the budget a denial is counted, and the count written with the origin's next record in that
    /// organization, an hour later at the earliest: a restart forgot it, and the trail never said that the
    /// denials went on. A daemon that stops cleanly (SIGTERM) now audits what it counted.
    @Test func deniedLoginsPastTheBudget_areAuditedWhenTheDaemonStops() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let names = (0..<5).map { "agent\($0)" }
        for name in names {
            let added = try daemon.ctl(["user", "add", name, "--password-stdin"], input: "pass-\(name)\n")
            #expect(added.status == 0, "\(added.standardError)")
        }
        // Each account's 5 free failures from nobody: 25 denied logins, 20 audited and 5 counted.
        for _ in 0..<5 {
            for name in names {
                let login = try daemon.login(name, password: "wrong", code: "123456", uid: nobodyUID)
                #expect(login.status != 0)
            }
        }
        #expect(daemon.stop(signal: SIGTERM) == 0, "\(daemon.log().suffix(2000))")
        try daemon.start()

        let trail = try daemon.ctl(["audit", "--limit", "100"])
        #expect(trail.status == 0, "\(trail.standardError)")
        #expect(
            trail.standardOutput.contains("+5 more from uid \(nobodyUID) not audited since its last record"),
            "\(trail.standardOutput)"
        )
    }
}
