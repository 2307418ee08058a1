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
        // An operator who runs an account's own command on it is told what the operator's command is.
        let enable = try run(Binaries.url("twofactorctl"), ["2fa", "enable", "alice"])
        #expect(enable.status == 64)
        #expect(enable.standardError.contains("`twofactorctl 2fa enroll alice`"), "\(enable.standardError)")
        let codes = try run(Binaries.url("twofactorctl"), ["2fa", "recovery-codes", "alice"])
        #expect(codes.status == 64)
        #expect(codes.standardError.contains("`twofactorctl 2fa reset alice`"), "\(codes.standardError)")
    }

    /// twofactorctl(8): with --json, errors are JSON on standard output, ArgumentParser's usage errors too, wherever
    /// --json stands and whether the parse, a check of the options or the command found the mistake.
    @Test(arguments: [
        (["--json", "user", "add"], "Missing expected argument '<name>': see 'twofactorctl user add --help'"),
        (["user", "show", "--json", "--code", "1"], "--code goes with --as ACCOUNT"),
        (
            ["--json", "2fa", "enroll", "alice", "--begin", "--confirm", "1"],
            "--begin and --confirm exclude each other"
        ),
        (
            ["--json", "user", "lst"],
            "Unknown subcommand 'lst' of 'twofactorctl user': choose add, passwd, show, list or remove: "
                + "see 'twofactorctl user --help'"
        ),
        (["--json", "--bogus", "user", "list"], "Unknown option '--bogus'"),
        (["grace", "revoke", "--json"], "name the account, or act as it with --as ACCOUNT"),
    ])
    func ctl_withJSON_reportsUsageErrorsAsJSON(arguments: [String], words: String) throws {
        let result = try run(Binaries.url("twofactorctl"), arguments)
        #expect(result.status == 64)
        #expect(result.standardError.isEmpty, "\(result.standardError)")
        let object = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "usage", "\(result.standardOutput)")
        let message = error?["message"] as? String ?? ""
        #expect(message.hasPrefix(words) && !message.contains("\n"), "\(result.standardOutput)")
        // Help is no error: it stays text.
        let help = try run(Binaries.url("twofactorctl"), arguments.filter { $0 != "--bogus" } + ["--help"])
        #expect(help.status == 0 && help.standardOutput.hasPrefix("OVERVIEW:"), "\(help.standardOutput)")
    }

    /// A daemon out of reach has one error name in the JSON of `twofactorctl --json` and of `twofactor helper`
    /// (twofactor(1), twofactorctl(8)), each in its own shape.
    @Test func unreachableDaemon_isDaemonUnavailable_inBothJSONOutputs() throws {
        let absent = try DaemonProcess()  // never started: its socket is missing
        let socket = absent.socketPath
        let ctl = try run(Binaries.url("twofactorctl"), ["--json", "--socket", socket, "user", "list"])
        #expect(ctl.status == 3)
        let ctlObject = try JSONSerialization.jsonObject(with: Data(ctl.standardOutput.utf8)) as? [String: Any]
        #expect((ctlObject?["error"] as? [String: Any])?["code"] as? String == "daemonUnavailable", "\(ctl)")
        let helper = try absent.helper(input: #"{"op":"login","user":"alice","password":"pw"}"# + "\n")
        let helperObject = try JSONSerialization.jsonObject(with: Data(helper.standardOutput.utf8)) as? [String: Any]
        #expect(helperObject?["code"] as? String == "daemonUnavailable", "\(helper)")
    }
}
