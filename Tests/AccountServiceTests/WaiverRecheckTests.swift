@testable import AccountService
import AccountStore
import Authentication
import Testing

// The MUST of AccountService+CodeWaiver.swift that no interleaving of whole logins can reach on demand: the
// waiver is checked again inside the write that records the login, against the stored account.
@Suite struct WaiverRecheckTests {
    @Test func useWaiver_withdrawnBeforeTheWrite_recordsNothing_andSaysSo() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("ann")
        let service = fixture.service(gracePeriod: 0)
        let now = fixture.clock.now
        try service.addExemption(caller: root, name: "ann", service: "cron", until: now + 60, fromUID: nil)
        let context = LoginContext(
            peerIsPrivileged: true,
            peerUID: 0,
            reportedRemoteHost: "",
            service: "cron",
            peerSession: nil
        )
        // What the login read before its write: the account with the exemption, and the waiver it grants.
        let read = try #require(try fixture.stored("ann"))
        let waiver = try #require(
            CodeWaiverPolicy.waiver(
                for: read,
                passwordMatches: true,
                organization: nil,
                defaultGracePeriod: 0,
                context: context,
                now: now
            )
        )
        // Withdrawn between that read and the write.
        try service.removeExemption(caller: root, name: "ann", service: "cron")
        let before = try fixture.stored("ann")

        #expect(try service.useWaiver(waiver, account: read, context: context, now: now) == false)
        #expect(try fixture.stored("ann") == before)
    }
}
