import Foundation
import Testing
import TestSupport

/// An admin's `2fa resync` through the real daemon: its failures are throttled without locking the target's
/// logins, and `unlock` of the target ends that lock too.
@Suite struct AdminResyncTests {
    @Test func anAdminsFailedResyncs_areThrottled_theTargetStillLogsIn_andAnUnlockEndsTheLock() throws {
        let org = try OrganizationFixture()
        let (secret, step, _) = try org.enable("ann")
        // `2fa resync` logs in first, as every command does, then reads its two codes.
        func resync(_ first: String, _ second: String) throws -> CommandResult {
            try org.daemon.ctl(
                ["2fa", "resync", "ann", "--label", "default", "--as", "amy", "--password-stdin"],
                input: "\(org.password("amy"))\n\(first)\n\(second)\n"
            )
        }
        for _ in 0..<5 {
            let wrong = try resync("000000", "000001")
            #expect(wrong.status == 1)
            #expect(wrong.standardError.contains("not consecutive"), "\(wrong.standardError)")
        }
        let locked = try resync("000000", "000001")
        #expect(locked.status == 1)
        #expect(locked.standardError.contains("too many wrong codes"), "\(locked.standardError)")
        // ann's own login is not locked by them.
        let login = try org.daemon.login(
            "ann",
            password: org.password("ann"),
            code: try org.nextCode(secret, after: step)
        )
        #expect(login.status == 0, "\(login.standardError)")
        let failed = try org.audit(["ann"]).filter { $0["action"] as? String == "resync" }
        #expect(failed.count == 5 && failed.allSatisfy { $0["outcome"] as? String == "failed" }, "\(failed)")

        // Unlocked, the next resync is checked again: two codes after the login's are accepted.
        let unlocked = try org.ctl(["unlock", "ann"], as: "amy")
        #expect(unlocked.status == 0, "\(unlocked.standardError)")
        let accepted = try resync(
            try org.nextCode(secret, after: step + 1),
            try org.nextCode(secret, after: step + 2)
        )
        #expect(accepted.status == 0, "\(accepted.standardError)")
    }
}
