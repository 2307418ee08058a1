import AccountService
import AccountStore
import Authentication
import Logging
import PasswordHashing
import Testing

// Grace periods, trusted networks and exemptions (issue 11) through the real service and LMDB store,
// with the clock moved by hand.

private let password = Array("pass-phrase".utf8)

/// A login reported by the PAM module running as root, from `host`.
private func remote(_ host: String, privileged: Bool = true, service: String = "sshd") -> LoginContext {
    LoginContext(
        peerIsPrivileged: privileged,
        peerUID: privileged ? 0 : 1000,
        reportedRemoteHost: host,
        service: service,
        peerSession: nil
    )
}

/// The boot id of the tests' host, as the daemon reads it; `otherBoot`, that of a later boot or another host.
private let thisBoot: [UInt8] = Array(repeating: 0xB0, count: 16)
private let otherBoot: [UInt8] = Array(repeating: 0xB1, count: 16)

/// A local login (sudo, a screen locker) from a process in audit session `session` of `boot`.
private func local(
    session: UInt32?,
    boot: [UInt8] = thisBoot,
    uid: UInt32 = 0,
    service: String = "sudo"
) -> LoginContext {
    LoginContext(
        peerIsPrivileged: uid == 0,
        peerUID: uid,
        reportedRemoteHost: "",
        service: service,
        peerSession: session.map { LoginSession(boot: boot, id: $0) }
    )
}

extension Fixture {
    /// The fixture's store and clock behind a service whose daemon-wide grace period is `seconds`. Its
    /// throttle never locks: these tests count answers (every `codeNeeded` stays counted as a failure).
    func service(gracePeriod seconds: Int64) -> AccountService {
        var configuration = ServiceConfiguration()
        configuration.gracePeriod = seconds
        configuration.throttle.freeFailures = 1000
        let clock = self.clock
        return AccountService(
            store: store,
            hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
            configuration: configuration,
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// Logs `name` in with a fresh code (the clock moves one step first), as `context`.
    func loginWithCode(
        _ name: String,
        _ secret: [UInt8],
        _ service: AccountService,
        _ context: LoginContext
    ) throws
        -> LoginResult
    {
        clock.advance(by: 30)
        let code = try oathtool(secret, at: clock.now)
        return try service.login(user: name, password: password, code: .totp(code), context: context)
    }
}

@Suite struct GracePeriodTests {
    @Test func grace_forOneHost_skipsTheCodeThereOnly() throws {
        let fixture = try Fixture()
        let service = fixture.service(gracePeriod: 300)
        let secret = try fixture.enrolled("ann")
        _ = try fixture.enrolled("bob")
        #expect(try fixture.loginWithCode("ann", secret, service, remote("192.0.2.7")) == .ok)

        #expect(try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7")) == .ok)
        // Another host, another account, an unprivileged peer claiming the host: a code is needed.
        #expect(
            try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.8")) == .codeNeeded
        )
        #expect(
            try service.login(user: "bob", password: password, code: .none, context: remote("192.0.2.7")) == .codeNeeded
        )
        #expect(
            try service.login(
                user: "ann",
                password: password,
                code: .none,
                context: remote("192.0.2.7", privileged: false)
            )
                == .codeNeeded
        )
        // No password oracle: a wrong password under the grace is asked for a code, like an unknown user.
        #expect(
            try service.login(
                user: "ann",
                password: Array("wrong-phrase".utf8),
                code: .none,
                context: remote("192.0.2.7")
            )
                == .codeNeeded
        )
        #expect(
            try service.login(user: "nobody", password: password, code: .none, context: remote("192.0.2.7"))
                == .codeNeeded
        )
        let records = try fixture.service.auditTrail(
            caller: root,
            account: "ann",
            organization: nil,
            since: nil,
            before: nil,
            limit: 10
        )
        #expect(records.contains { $0.action == .login && $0.detail.contains("grace for host 192.0.2.7") })
    }

    @Test func grace_expiresAfterItsPeriod() throws {
        let fixture = try Fixture()
        let service = fixture.service(gracePeriod: 300)
        let secret = try fixture.enrolled("ann")
        #expect(try fixture.loginWithCode("ann", secret, service, remote("192.0.2.7")) == .ok)
        fixture.clock.advance(by: 299)
        #expect(try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7")) == .ok)
        fixture.clock.advance(by: 1)
        #expect(
            try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7")) == .codeNeeded
        )
    }

    /// The daemon's `--grace-period` lowered at a reload (a new service over the same store): a grace that started
    /// under the old hour ends by the new period from its start, for logins, code checks and `user show`, and 0 ends
    /// it at once. Before, it ran to the end of the hour it started under.
    @Test func grace_whenTheDaemonsPeriodIsLoweredAtAReload_endsByTheNewPeriod() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("ann")
        #expect(
            try fixture.loginWithCode("ann", secret, fixture.service(gracePeriod: 3_600), remote("192.0.2.7")) == .ok
        )
        let start = fixture.clock.now
        let reloaded = fixture.service(gracePeriod: 600)
        fixture.clock.advance(by: 599)
        #expect(try reloaded.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7")) == .ok)
        #expect(try reloaded.accessGrants(caller: root, name: "ann").graces.map(\.expiresAt) == [start + 600])
        fixture.clock.advance(by: 1)
        #expect(
            try reloaded.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7"))
                == .codeNeeded
        )
        #expect(try reloaded.checkCode(user: "ann", code: .none, context: remote("192.0.2.7")) == .codeNeeded)
        #expect(try reloaded.accessGrants(caller: root, name: "ann").graces == [])
        // Turned off: a grace of a login made just before ends at once.
        #expect(
            try fixture.loginWithCode("ann", secret, fixture.service(gracePeriod: 3_600), remote("192.0.2.7")) == .ok
        )
        #expect(
            try fixture.service(gracePeriod: 0).login(
                user: "ann",
                password: password,
                code: .none,
                context: remote("192.0.2.7")
            ) == .codeNeeded
        )
    }

    @Test func grace_isNeverExtendedWithoutACode() throws {
        let fixture = try Fixture()
        let service = fixture.service(gracePeriod: 300)
        let secret = try fixture.enrolled("ann")
        #expect(try fixture.loginWithCode("ann", secret, service, remote("192.0.2.7")) == .ok)
        fixture.clock.advance(by: 200)
        #expect(try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7")) == .ok)
        fixture.clock.advance(by: 100)
        #expect(
            try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7")) == .codeNeeded
        )
    }

    @Test func grace_isOffByDefault_andAnOrganizationsPeriodWins() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("ann")
        // The daemon's default: no grace at all.
        #expect(try fixture.loginWithCode("ann", secret, fixture.service, remote("192.0.2.7")) == .ok)
        #expect(try fixture.stored("ann")?.graces == [])
        #expect(
            try fixture.service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7"))
                == .codeNeeded
        )
        // The organization turns it off although the daemon has one.
        let service = fixture.service(gracePeriod: 300)
        _ = try service.setOrganizationAccess(
            caller: root,
            name: "default",
            gracePeriod: .some(0),
            trustedNetworks: nil
        )
        #expect(try fixture.loginWithCode("ann", secret, service, remote("192.0.2.7")) == .ok)
        #expect(try fixture.stored("ann")?.graces == [])
        // And sets its own although the daemon has none.
        _ = try service.setOrganizationAccess(
            caller: root,
            name: "default",
            gracePeriod: .some(60),
            trustedNetworks: nil
        )
        #expect(try fixture.loginWithCode("ann", secret, fixture.service, remote("192.0.2.7")) == .ok)
        #expect(try fixture.stored("ann")?.graces.map(\.expiresAt) == [fixture.clock.now + 60])
    }

    @Test func grace_forALocalSession_needsTheSameSession() throws {
        let fixture = try Fixture()
        let service = fixture.service(gracePeriod: 300)
        let secret = try fixture.enrolled("ann")
        #expect(try fixture.loginWithCode("ann", secret, service, local(session: 7)) == .ok)
        #expect(try service.login(user: "ann", password: password, code: .none, context: local(session: 7)) == .ok)
        #expect(
            try service.login(user: "ann", password: password, code: .none, context: local(session: 8)) == .codeNeeded
        )
        #expect(
            try service.login(user: "ann", password: password, code: .none, context: local(session: nil)) == .codeNeeded
        )
        // The same number after a reboot, or on another host of a fleet, is another session.
        let elsewhere = local(session: 7, boot: otherBoot)
        #expect(try service.login(user: "ann", password: password, code: .none, context: elsewhere) == .codeNeeded)
        // Without a session nothing is granted.
        try fixture.service.revokeGraces(caller: root, name: "ann")
        #expect(try fixture.loginWithCode("ann", secret, service, local(session: nil)) == .ok)
        #expect(try fixture.stored("ann")?.graces == [])
    }

    @Test func grace_ofASession_neverServesARequestThatCarriesARemoteHost() throws {
        let fixture = try Fixture()
        let service = fixture.service(gracePeriod: 300)
        let secret = try fixture.enrolled("ann")
        #expect(try fixture.loginWithCode("ann", secret, service, local(session: 7)) == .ok)
        // sshd started from session 7, or a local user in session 7 claiming a remote host: no grace.
        for privileged in [true, false] {
            let context = LoginContext(
                peerIsPrivileged: privileged,
                peerUID: privileged ? 0 : 1000,
                reportedRemoteHost: "192.0.2.7",
                service: "sshd",
                peerSession: LoginSession(boot: thisBoot, id: 7)
            )
            #expect(context.graceKey == (privileged ? .remoteHost("192.0.2.7") : nil))
            #expect(try service.login(user: "ann", password: password, code: .none, context: context) == .codeNeeded)
        }
    }

    @Test(arguments: ["revoke", "password", "unlock", "reset", "disable"])
    func grace_endsWith(_ change: String) throws {
        let fixture = try Fixture()
        let service = fixture.service(gracePeriod: 300)
        let secret = try fixture.enrolled("ann")
        #expect(try fixture.loginWithCode("ann", secret, service, remote("192.0.2.7")) == .ok)
        #expect(try fixture.stored("ann")?.graces.count == 1)
        switch change {
        case "revoke": try service.revokeGraces(caller: root, name: "ann")
        case "password": try service.setPassword(caller: root, name: "ann", password: password)
        case "unlock": try service.unlock(caller: root, name: "ann")
        case "reset": try service.resetTwoFactor(caller: root, name: "ann")
        default: try service.disableTwoFactor(caller: root, name: "ann")
        }
        #expect(try fixture.stored("ann")?.graces == [])
        let answer = try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7"))
        #expect(answer != .ok || change == "disable")
        if change == "revoke" {
            let records = try fixture.service.auditTrail(
                caller: root,
                account: "ann",
                organization: nil,
                since: nil,
                before: nil,
                limit: 5
            )
            #expect(records.first?.action == .graceRevoke)
        }
    }

    @Test func grace_neverForAPendingAccount() throws {
        let fixture = try Fixture()
        let service = fixture.service(gracePeriod: 300)
        try fixture.add("ann", requireTwoFactor: true)
        var account = try #require(try fixture.stored("ann"))
        account.grantGrace(.remoteHost("192.0.2.7"), seconds: 300, now: fixture.clock.now)
        let graces = account.graces
        try fixture.store.update(account.name) { $0.graces = graces }
        guard
            case .enroll = try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.7"))
        else {
            Issue.record("a pending account skipped enrollment under a grace")
            return
        }
    }

    @Test func grace_appliesToACodeCheck_likeALogin() throws {
        let fixture = try Fixture()
        let service = fixture.service(gracePeriod: 300)
        let secret = try fixture.enrolled("ann")
        fixture.clock.advance(by: 30)
        let code = try oathtool(secret, at: fixture.clock.now)
        #expect(try service.checkCode(user: "ann", code: .totp(code), context: local(session: 42)) == .ok)
        #expect(try service.checkCode(user: "ann", code: .none, context: local(session: 42)) == .ok)
        #expect(try service.checkCode(user: "ann", code: .none, context: local(session: 43)) == .codeNeeded)
    }
}

@Suite struct TrustedNetworkTests {
    @Test func trustedNetwork_skipsTheCode_onlyForAddressesInside() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("ann")
        _ = try fixture.service.setOrganizationAccess(
            caller: root,
            name: "default",
            gracePeriod: nil,
            trustedNetworks: ["192.0.2.0/24", "2001:db8::/32"]
        )
        let service = fixture.service(gracePeriod: 0)
        for host in ["192.0.2.9", "2001:db8::1", "::ffff:192.0.2.200"] {
            #expect(
                try service.login(user: "ann", password: password, code: .none, context: remote(host)) == .ok,
                "\(host)"
            )
        }
        for host in ["198.51.100.1", "2001:db9::1", "localhost", "host.example", "192.0.2.9.example"] {
            #expect(
                try service.login(user: "ann", password: password, code: .none, context: remote(host)) == .codeNeeded,
                "\(host)"
            )
        }
        #expect(
            try service.login(user: "ann", password: password, code: .none, context: local(session: 3)) == .codeNeeded
        )
        #expect(
            try service.login(
                user: "ann",
                password: password,
                code: .none,
                context: remote("192.0.2.9", privileged: false)
            )
                == .codeNeeded
        )
        #expect(
            try service.login(
                user: "ann",
                password: Array("wrong-phrase".utf8),
                code: .none,
                context: remote("192.0.2.9")
            )
                == .codeNeeded
        )
        let records = try service.auditTrail(
            caller: root,
            account: "ann",
            organization: nil,
            since: nil,
            before: nil,
            limit: 10
        )
        #expect(records.contains { $0.detail.contains("trusted network 192.0.2.0/24") })

        _ = try service.setOrganizationAccess(caller: root, name: "default", gracePeriod: nil, trustedNetworks: [])
        #expect(
            try service.login(user: "ann", password: password, code: .none, context: remote("192.0.2.9")) == .codeNeeded
        )
    }

    @Test func trustedNetwork_refusesWhatIsNotANetwork() throws {
        let fixture = try Fixture()
        for text in ["192.0.2.1/24", "192.0.2.0/33", "host.example/24", "", "192.0.2.0/", "10.0.0.0/8/8"] {
            #expect(throws: ServiceError.self, "\(text)") {
                try fixture.service.setOrganizationAccess(
                    caller: root,
                    name: "default",
                    gracePeriod: nil,
                    trustedNetworks: [text]
                )
            }
        }
        let agent = try fixture.add("agent")
        #expect(throws: ServiceError.self) {
            try fixture.service.setOrganizationAccess(
                caller: .account(agent),
                name: "default",
                gracePeriod: nil,
                trustedNetworks: ["10.0.0.0/8"]
            )
        }
    }
}

@Suite struct ExemptionTests {
    @Test func exemption_worksOnlyForItsServiceUidAndTime() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("ann")
        let service = fixture.service(gracePeriod: 0)
        let until = fixture.clock.now + 3600
        try service.addExemption(caller: root, name: "ann", service: "cron", until: until, fromUID: 998)
        let cron998 = LoginContext(
            peerIsPrivileged: false,
            peerUID: 998,
            reportedRemoteHost: "",
            service: "cron",
            peerSession: nil
        )
        #expect(try service.login(user: "ann", password: password, code: .none, context: cron998) == .ok)
        var otherService = cron998
        otherService.service = "sshd"
        #expect(try service.login(user: "ann", password: password, code: .none, context: otherService) == .codeNeeded)
        let otherUID = LoginContext(
            peerIsPrivileged: true,
            peerUID: 0,
            reportedRemoteHost: "",
            service: "cron",
            peerSession: nil
        )
        #expect(try service.login(user: "ann", password: password, code: .none, context: otherUID) == .codeNeeded)
        #expect(
            try service.login(user: "ann", password: Array("wrong-phrase".utf8), code: .none, context: cron998)
                == .codeNeeded
        )
        let records = try service.auditTrail(
            caller: root,
            account: "ann",
            organization: nil,
            since: nil,
            before: nil,
            limit: 10
        )
        #expect(
            records.contains { $0.action == .login && $0.detail.contains("exemption for service cron from uid 998") }
        )
        #expect(records.contains { $0.action == .exemptionAdd })

        fixture.clock.advance(by: 3600)
        #expect(try service.login(user: "ann", password: password, code: .none, context: cron998) == .codeNeeded)
        #expect(try service.accessGrants(caller: root, name: "ann").exemptions == [])
    }

    @Test func exemption_withoutUid_needsAPrivilegedPeer_andCanBeRemoved() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("ann")
        let service = fixture.service(gracePeriod: 0)
        try service.addExemption(
            caller: root,
            name: "ann",
            service: "cron",
            until: fixture.clock.now + 60,
            fromUID: nil
        )
        let privileged = LoginContext(
            peerIsPrivileged: true,
            peerUID: 0,
            reportedRemoteHost: "",
            service: "cron",
            peerSession: nil
        )
        let user = LoginContext(
            peerIsPrivileged: false,
            peerUID: 1000,
            reportedRemoteHost: "",
            service: "cron",
            peerSession: nil
        )
        #expect(try service.login(user: "ann", password: password, code: .none, context: privileged) == .ok)
        #expect(try service.login(user: "ann", password: password, code: .none, context: user) == .codeNeeded)
        try service.removeExemption(caller: root, name: "ann", service: "cron")
        #expect(try service.login(user: "ann", password: password, code: .none, context: privileged) == .codeNeeded)
        // Refused inside the write (the store's update body): the service's own error reaches the caller as it is.
        let error = #expect(throws: ServiceError.self) {
            try service.removeExemption(caller: root, name: "ann", service: "cron")
        }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.message.contains("has no exemption for service 'cron'") == true)
    }

    @Test func exemption_refusesThePastAndMoreThanAYear_andTheAccountItself() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("ann")
        let service = fixture.service
        let now = fixture.clock.now
        #expect(throws: ServiceError.self) {
            try service.addExemption(caller: root, name: "ann", service: "cron", until: now, fromUID: nil)
        }
        #expect(throws: ServiceError.self) {
            try service.addExemption(
                caller: root,
                name: "ann",
                service: "cron",
                until: now + 367 * 86_400,
                fromUID: nil
            )
        }
        #expect(throws: ServiceError.self) {
            try service.addExemption(caller: root, name: "ann", service: "with space", until: now + 60, fromUID: nil)
        }
        let itself = Caller.account(try #require(try fixture.stored("ann")))
        #expect(throws: ServiceError.self) {
            try service.addExemption(caller: itself, name: "ann", service: "cron", until: now + 60, fromUID: nil)
        }
    }
}
