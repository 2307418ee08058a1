import Foundation
import Glibc
import Testing
import TestSupport

// Grace periods, trusted networks and scoped exemptions (issue 11) through the real daemon, the real
// twofactorctl, and the real PAM module driven by pamtester (`-I rhost=HOST` sets the remote host).

/// A daemon with `alice` and `bob` enrolled (period 3600: the next step's code is valid now), and the
/// PAM module beside its socket.
private struct AccessSetup {
    let daemon: DaemonProcess
    let module: String
    let alice: (secret: String, step: Int64)

    /// With `configuration`, the daemon reads it from `configurationPath` (rewrite it and `reload()`).
    init(daemonArguments: [String] = [], configuration: String? = nil) throws {
        daemon = try DaemonProcess()
        var arguments = daemonArguments
        if let configuration {
            let path = daemon.directory.appendingPathComponent("twofactord.conf").path
            try ConfigurationTests.write(configuration, to: path)
            arguments += ["--config", path]
        }
        try daemon.start(extraArguments: arguments)
        module = try PAMModule.copy(into: daemon.directory)
        alice = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        _ = try daemon.enrolledAccount("bob", password: "pw-bob-2fa", period: 3600)
    }

    var configurationPath: String { daemon.directory.appendingPathComponent("twofactord.conf").path }

    /// Alice's next code: accepted once.
    func aliceCode() throws -> String {
        try OathTool.code(secret: alice.secret, at: (alice.step + 1) * 3600, period: 3600)
    }

    func service(_ options: String = "") throws -> PAMService {
        try PAMService(["auth required \(module) socket=\(daemon.socketPath) \(options)"])
    }

    /// Writes `configuration` and sends SIGHUP; returns once the daemon has logged the reload.
    func reload(_ configuration: String) throws {
        try ConfigurationTests.write(configuration, to: configurationPath)
        let reloads = daemon.log().components(separatedBy: "configuration reloaded").count
        kill(try #require(daemon.process).processIdentifier, SIGHUP)
        let deadline = Date().addingTimeInterval(20)
        while daemon.log().components(separatedBy: "configuration reloaded").count == reloads, Date() < deadline {
            usleep(20_000)
        }
        #expect(daemon.log().components(separatedBy: "configuration reloaded").count > reloads, "\(daemon.log())")
    }

    func ctl(_ arguments: [String]) throws -> CommandResult {
        let result = try daemon.ctl(arguments)
        #expect(result.status == 0, "twofactorctl \(arguments): \(result.standardError)")
        return result
    }
}

/// A password alone: pamtester then has nothing to answer a code prompt with.
private func passwordOnly(_ service: PAMService, _ user: String, _ password: String, rhost: String?) throws -> Bool {
    try service.authenticate(user, input: password + "\n", rhost: rhost).authenticated
}

@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct GracePeriodPAMTests {
    @Test func grace_appliesToItsHostAndAccountOnly_untilRevoked() throws {
        let setup = try AccessSetup(daemonArguments: ["--grace-period", "600"])
        let service = try setup.service()
        let first = try service.authenticate("alice", input: "pw-alice\n\(try setup.aliceCode())\n", rhost: "192.0.2.7")
        #expect(first.authenticated, "\(first.standardError)\n\(setup.daemon.log())")

        let again = try service.authenticate("alice", input: "pw-alice\n", rhost: "192.0.2.7")
        #expect(again.authenticated, "\(again.standardError)\n\(setup.daemon.log())")
        #expect(!again.standardError.contains("Verification code"))
        // The password is still checked.
        #expect(try !passwordOnly(service, "alice", "pw-wrong", rhost: "192.0.2.7"))
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.8"))
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: nil))
        #expect(try !passwordOnly(service, "bob", "pw-bob-2fa", rhost: "192.0.2.7"))

        let shown = try setup.ctl(["user", "show", "alice"])
        #expect(shown.standardOutput.contains("grace:          host 192.0.2.7 until"), "\(shown.standardOutput)")
        let audit = try setup.ctl(["audit", "alice"])
        #expect(audit.standardOutput.contains("grace for host 192.0.2.7"), "\(audit.standardOutput)")

        _ = try setup.ctl(["grace", "revoke", "alice"])
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.7"))
        #expect(try setup.ctl(["audit", "alice"]).standardOutput.contains("grace-revoke"))
        #expect(try !setup.ctl(["user", "show", "alice"]).standardOutput.contains("grace:"))
    }

    @Test func grace_endsWhenItsPeriodIsOver() throws {
        let setup = try AccessSetup(daemonArguments: ["--grace-period", "2"])
        let service = try setup.service()
        #expect(
            try service.authenticate("alice", input: "pw-alice\n\(try setup.aliceCode())\n", rhost: "192.0.2.7")
                .authenticated
        )
        let started = unixNow()
        #expect(try passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.7"))
        // Two seconds of grace: three seconds later it is over.
        while unixNow() < started + 3 { usleep(100_000) }
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.7"))
    }

    /// The daemon's period turned off at a reload ends a grace that started under the hour before, from the next
    /// login on (the account is not rewritten; a shorter period is `GracePeriodTests`'). Before, the grace ran its
    /// whole hour.
    @Test func grace_whenTheDaemonsPeriodIsTurnedOffAtAReload_endsAtOnce() throws {
        let setup = try AccessSetup(configuration: "[daemon]\ngrace-period = 600\n")
        let service = try setup.service()
        #expect(
            try service.authenticate("alice", input: "pw-alice\n\(try setup.aliceCode())\n", rhost: "192.0.2.7")
                .authenticated
        )
        #expect(try passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.7"))
        try setup.reload("[daemon]\ngrace-period = 0\n")
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.7"), "\(setup.daemon.log())")
        #expect(try !setup.ctl(["user", "show", "alice"]).standardOutput.contains("grace:"))
    }

    @Test func grace_isOffByDefault() throws {
        let setup = try AccessSetup()
        let service = try setup.service()
        #expect(
            try service.authenticate("alice", input: "pw-alice\n\(try setup.aliceCode())\n", rhost: "192.0.2.7")
                .authenticated
        )
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.7"))
    }

    @Test func grace_ofAnOrganization_winsOverTheDaemons() throws {
        let setup = try AccessSetup(daemonArguments: ["--grace-period", "600"])
        _ = try setup.ctl(["org", "set", "default", "--grace-period", "0"])
        let service = try setup.service()
        #expect(
            try service.authenticate("alice", input: "pw-alice\n\(try setup.aliceCode())\n", rhost: "192.0.2.7")
                .authenticated
        )
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.7"))
        let shown = try setup.ctl(["org", "show", "default"])
        #expect(shown.standardOutput.contains("grace period: off"), "\(shown.standardOutput)")
    }

    /// The local grace follows the kernel's audit session: a shell that writes /proc/self/loginuid starts a
    /// new one (as pam_loginuid does at login), and the pamtester runs inside it share it.
    @Test func grace_forALocalSession_appliesInThatSessionOnly() throws {
        let setup = try AccessSetup(daemonArguments: ["--grace-period", "600"])
        let service = try setup.service()
        let script = """
            echo 0 > /proc/self/loginuid || exit 90
            printf 'pw-alice\\n%s\\n' "$1" | \(PAMTester.shellCommand) \(service.name) alice authenticate || exit 91
            printf 'pw-alice\\n' | \(PAMTester.shellCommand) \(service.name) alice authenticate || exit 92
            # Acting as the account (an admin's step-up) always takes the code, grace or not.
            printf 'pw-alice\\n' | "$2" user show alice --as alice --password-stdin --socket "$3" && exit 93
            exit 0
            """
        let ctl = Binaries.url("twofactorctl").path
        let inSession = try run(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", script, "sh", try setup.aliceCode(), ctl, setup.daemon.socketPath]
        )
        #expect(inSession.status == 0, "\(inSession.standardError)\n\(setup.daemon.log())")
        let shown = try setup.ctl(["user", "show", "alice"])
        #expect(shown.standardOutput.contains("grace:          session "), "\(shown.standardOutput)")

        let otherSession = """
            echo 0 > /proc/self/loginuid || exit 90
            printf 'pw-alice\\n' | \(PAMTester.shellCommand) \(service.name) alice authenticate
            """
        let other = try run(URL(fileURLWithPath: "/bin/sh"), ["-c", otherSession])
        #expect(other.status != 0 && other.status != 90, "\(other.standardOutput)")
        // No session at all (the test runner's own, unset here): no grace either.
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: nil))
    }
}

/// A daemon that cannot read its peers' login sessions says so when it starts: under the shipped unit's
/// ProcSubset=pid and ProtectProc=invisible a configured grace serves remote hosts only.
@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct SessionVisibilityTests {
    static let notice = "local session graces cannot apply"

    /// A new mount namespace whose /proc is mounted with `procOptions` (since Linux 5.8 each mount of /proc has
    /// its own), where the shell execs the daemon, with `asUser` in front of it: the daemon keeps the child's pid.
    static func launcher(procOptions: String, asUser: [String] = []) -> [String] {
        let script =
            "mount -t proc -o \(procOptions) proc /proc || exit 90; exec " + asUser.joined(separator: " ") + " \"$@\""
        return ["/usr/bin/unshare", "--mount", "/bin/sh", "-c", script, "sh"]
    }

    @Test func aDaemonThatCanReadSessions_saysNothing() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        #expect(!daemon.log().contains(Self.notice), "\(daemon.log())")
    }

    @Test func aHiddenBootID_isTold() throws {
        let daemon = try DaemonProcess()
        try daemon.start(launcher: Self.launcher(procOptions: "subset=pid"))
        #expect(
            daemon.log().contains("\(Self.notice), graces by remote host still do: /proc/sys/kernel/random/boot_id"),
            "\(daemon.log())"
        )
    }

    /// A daemon run as nobody under a /proc mounted with `procOptions`.
    private func daemonAsNobody(procOptions: String) throws -> DaemonProcess {
        let daemon = try DaemonProcess()
        for path in [daemon.directory.path, daemon.stateDirectory] {
            #expect(chown(path, nobodyUID, nobodyUID) == 0)
        }
        let nobody = ["/usr/bin/setpriv", "--reuid=\(nobodyUID)", "--regid=\(nobodyUID)", "--clear-groups"]
        try daemon.start(launcher: Self.launcher(procOptions: procOptions, asUser: nobody))
        return daemon
    }

    @Test func hiddenProcessesOfOtherUsers_areTold() throws {
        let daemon = try daemonAsNobody(procOptions: "hidepid=invisible")
        #expect(daemon.log().contains("\(Self.notice), graces by remote host still do: /proc hides"), "\(daemon.log())")
    }

    /// The shipped unit hides both: the notice names both, so that a drop-in undoing one is not taken for enough.
    @Test func bothHidden_asUnderTheShippedUnit_areBothTold() throws {
        let daemon = try daemonAsNobody(procOptions: "subset=pid,hidepid=invisible")
        #expect(
            daemon.log().contains("boot_id cannot be read (systemd's ProcSubset=pid hides it); /proc hides"),
            "\(daemon.log())"
        )
    }
}

@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct TrustedNetworkPAMTests {
    @Test func trustedNetwork_skipsTheCodeInside_andNotOutside() throws {
        let setup = try AccessSetup()
        let set = try setup.ctl(
            ["org", "set", "default", "--trusted-network", "192.0.2.0/24", "--trusted-network", "2001:db8::/32"]
        )
        #expect(set.standardOutput.contains("192.0.2.0/24 2001:db8::/32"), "\(set.standardOutput)")
        let service = try setup.service()
        #expect(try passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.44"))
        #expect(try passwordOnly(service, "alice", "pw-alice", rhost: "2001:db8::44"))
        #expect(try !passwordOnly(service, "alice", "pw-wrong", rhost: "192.0.2.44"))
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "198.51.100.1"))
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "office.example"))
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: nil))
        let audit = try setup.ctl(["audit", "alice"])
        #expect(audit.standardOutput.contains("trusted network 192.0.2.0/24"), "\(audit.standardOutput)")

        _ = try setup.ctl(["org", "set", "default", "--no-trusted-networks"])
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: "192.0.2.44"))
    }

    @Test func trustedNetwork_refusesAHostName() throws {
        let setup = try AccessSetup()
        let refused = try setup.daemon.ctl(["org", "set", "default", "--trusted-network", "office.example"])
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("is not a network"), "\(refused.standardError)")
    }
}

@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct ExemptionPAMTests {
    @Test func exemption_worksOnlyForItsService_andUid() throws {
        let setup = try AccessSetup()
        let exempted = try setup.service()
        let other = try setup.service()
        _ = try setup.ctl(["exempt", "add", "alice", "--service", exempted.name, "--until", "+1h"])
        #expect(try passwordOnly(exempted, "alice", "pw-alice", rhost: nil))
        #expect(try !passwordOnly(exempted, "alice", "pw-wrong", rhost: nil))
        #expect(try !passwordOnly(other, "alice", "pw-alice", rhost: nil))
        #expect(try !passwordOnly(exempted, "bob", "pw-bob-2fa", rhost: nil))
        let listed = try setup.ctl(["exempt", "list"])
        #expect(listed.standardOutput.contains(exempted.name), "\(listed.standardOutput)")
        let audit = try setup.ctl(["audit", "alice"])
        #expect(audit.standardOutput.contains("exemption for service \(exempted.name)"), "\(audit.standardOutput)")

        // Bound to a uid the PAM module (root) does not run as: no longer enough.
        _ = try setup.ctl([
            "exempt", "add", "alice", "--service", exempted.name, "--until", "+1h", "--from-uid", "4242",
        ])
        #expect(try !passwordOnly(exempted, "alice", "pw-alice", rhost: nil))
        _ = try setup.ctl(["exempt", "add", "alice", "--service", exempted.name, "--until", "+1h", "--from-uid", "0"])
        #expect(try passwordOnly(exempted, "alice", "pw-alice", rhost: nil))

        _ = try setup.ctl(["exempt", "remove", "alice", "--service", exempted.name])
        #expect(try !passwordOnly(exempted, "alice", "pw-alice", rhost: nil))
        #expect(try setup.ctl(["exempt", "list", "alice"]).standardOutput.split(separator: "\n").count == 1)
    }

    @Test func exemption_endsAtItsTime() throws {
        let setup = try AccessSetup()
        let service = try setup.service()
        let until = unixNow() + 2
        _ = try setup.ctl(["exempt", "add", "alice", "--service", service.name, "--until", "\(until)"])
        #expect(try passwordOnly(service, "alice", "pw-alice", rhost: nil))
        while unixNow() <= until { usleep(100_000) }
        #expect(try !passwordOnly(service, "alice", "pw-alice", rhost: nil))
    }
}
