import Foundation
import Testing

/// Help text is part of the product: what each program says about itself.
@Suite struct CommandLineTests {
    @Test(arguments: [
        (
            "twofactord", ["--help"],
            ["--socket <path>", "--state-dir <dir>", "--operator-group", "--scrypt-log-n", "SIGTERM"]
        ),
        (
            "twofactorctl", ["--help"],
            ["user", "2fa", "Exit status: 0 success, 1 the daemon refused", "3 the daemon could not"]
        ),
        ("twofactorctl", ["user", "add", "--help"], ["--require-2fa", "--password-stdin", "--org", "--role"]),
        ("twofactorctl", ["2fa", "enroll", "--help"], ["--begin", "--confirm <code>", "--algorithm", "--invert"]),
        ("twofactor", ["--help"], ["login", "0 the login succeeded, 1 it was denied, 2 the account is locked"]),
        ("twofactor", ["login", "--help"], ["without echo", "two lines", "QR code"]),
    ])
    func help_describesTheProgram(program: String, arguments: [String], expected: [String]) throws {
        let result = try run(Binaries.url(program), arguments)
        #expect(result.status == 0)
        for phrase in expected {
            #expect(result.standardOutput.contains(phrase), "\(program) \(arguments) lacks '\(phrase)'")
        }
    }

    @Test func ctl_rejectsBadArguments_withUsageStatus() throws {
        let bothModes = try run(
            Binaries.url("twofactorctl"),
            ["2fa", "enroll", "alice", "--begin", "--confirm", "123456"]
        )
        #expect(bothModes.status == 64)
        #expect(bothModes.standardError.contains("--begin and --confirm exclude each other"))
        let badRole = try run(Binaries.url("twofactorctl"), ["user", "add", "alice", "--role", "root"])
        #expect(badRole.status == 64)
    }

    /// A daemon out of reach has one error name in the JSON of `twofactorctl --json` and of `twofactor helper`
    /// (twofactor(1), twofactorctl(8)), each in its own shape.
    @Test func unreachableDaemon_isDaemonUnavailable_inBothJSONOutputs() throws {
        let socket = "/tmp/tfd-none-\(UUID().uuidString.prefix(8))/socket"
        let ctl = try run(Binaries.url("twofactorctl"), ["--json", "--socket", socket, "user", "list"])
        #expect(ctl.status == 3)
        let ctlObject = try JSONSerialization.jsonObject(with: Data(ctl.standardOutput.utf8)) as? [String: Any]
        #expect((ctlObject?["error"] as? [String: Any])?["code"] as? String == "daemonUnavailable", "\(ctl)")
        let helper = try run(
            Binaries.url("twofactor"),
            ["helper", "--socket", socket],
            input: #"{"op":"login","user":"alice","password":"pw"}"# + "\n"
        )
        let helperObject = try JSONSerialization.jsonObject(with: Data(helper.standardOutput.utf8)) as? [String: Any]
        #expect(helperObject?["code"] as? String == "daemonUnavailable", "\(helper)")
    }
}
