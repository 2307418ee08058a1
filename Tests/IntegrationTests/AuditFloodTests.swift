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
}
