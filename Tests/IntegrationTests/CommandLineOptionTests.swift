import Foundation
import Testing

/// The command line as a new user meets it: shared options anywhere, the socket from the
/// environment, typos named as typos, help that wraps, and a word after a terminal login.
@Suite struct CommandLineOptionTests {
    static let ctl = Binaries.url("twofactorctl")
    static let client = Binaries.url("twofactor")

    @Test func ctl_acceptsSharedOptionsBeforeBetweenAndAfterTheSubcommand() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        #expect(try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pass-phrase\n").status == 0)
        let socket = daemon.socketPath
        let placements: [[String]] = [
            ["--socket", socket, "--json", "user", "list"],
            ["--json", "user", "--socket=\(socket)", "list"],
            ["user", "list", "--json", "--socket", socket],
            ["--socket", socket, "user", "show", "--json", "alice"],
        ]
        for arguments in placements {
            let result = try run(Self.ctl, arguments)
            #expect(result.status == 0, "\(arguments): \(result.standardError)")
            #expect(result.standardOutput.contains("\"user\":\"alice\""), "\(arguments): \(result.standardOutput)")
        }
        let table = try run(Self.ctl, ["--socket", socket, "user", "list"])
        #expect(table.standardOutput.hasPrefix("USER"), "\(table.standardOutput)")
    }

    @Test func login_acceptsTheSocketBeforeTheSubcommand() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        #expect(try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pass-phrase\n").status == 0)
        let result = try run(Self.client, ["--socket", daemon.socketPath, "login", "alice"], input: "pass-phrase\n")
        #expect(result.status == 0, "\(result.standardError)")
    }

    @Test func clients_takeTheSocketFromTheEnvironment_andTheOptionWins() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        #expect(try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pass-phrase\n").status == 0)
        let environment = ["TWOFACTORD_SOCKET": daemon.socketPath]

        let listed = try run(Self.ctl, ["user", "list"], environment: environment)
        #expect(listed.status == 0, "\(listed.standardError)")
        #expect(listed.standardOutput.contains("alice"))
        let login = try run(Self.client, ["login", "alice"], input: "pass-phrase\n", environment: environment)
        #expect(login.status == 0, "\(login.standardError)")

        let elsewhere = daemon.directory.appendingPathComponent("nothing-here").path
        let overridden = try run(Self.ctl, ["--socket", elsewhere, "user", "list"], environment: environment)
        #expect(overridden.status == 3)
        #expect(overridden.standardError.contains(elsewhere), "\(overridden.standardError)")
        let unset = try run(Self.ctl, ["user", "list"], environment: ["TWOFACTORD_SOCKET": nil])
        #expect(unset.standardError.contains("/run/twofactord/socket") || unset.status == 0, "\(unset.standardError)")
    }

    /// In plain text too, the error points at the help of the command the mistyped word belongs to, as with --json:
    /// it showed the top-level usage and help, which do not list `user`'s subcommands.
    @Test(arguments: [
        ("twofactorctl", ["user", "lst", "--socket", "/tmp/none"], "'lst' of 'twofactorctl user'"),
        ("twofactorctl", ["--socket", "/tmp/none", "usr", "list"], "'usr' of 'twofactorctl'"),
        ("twofactorctl", ["--json", "2fa", "enrol", "alice"], "'enrol' of 'twofactorctl 2fa'"),
        ("twofactorctl", ["org", "sett", "acme"], "'sett' of 'twofactorctl org'"),
        ("twofactor", ["--socket", "/tmp/none", "lgin", "alice"], "'lgin' of 'twofactor'"),
    ])
    func typoInSubcommand_isReportedAsUnknownSubcommand(program: String, arguments: [String], named: String) throws {
        let result = try run(Binaries.url(program), arguments)
        #expect(result.status == 64)
        // With --json, twofactorctl says it in JSON on standard output (CommandLineTests).
        let said = result.standardError + result.standardOutput
        #expect(said.contains("Unknown subcommand \(named)"), "\(said)")
        #expect(!result.standardError.contains("Unknown option"), "\(result.standardError)")
        let command = named.split(separator: "'")[2]
        #expect(said.contains("'\(command) --help'"), "\(said)")
        if command.contains(" ") {
            #expect(!said.contains("'\(program) --help'") && !said.contains("Usage: \(program) <"), "\(said)")
        }
    }

    /// Hand-wrapped help breaks lines twice once ArgumentParser wraps it again; paragraphs wrap once.
    @Test(arguments: [
        (
            "twofactorctl", [],
            "an operator (root, the daemon's own user, or a member of the daemon's operator group) may do everything"
        ),
        (
            "twofactorctl", [],
            "1 the daemon refused the request (the message says why), 3 the daemon could not be reached"
        ),
        ("twofactorctl", ["2fa", "enroll"], "asks for the first code (again after a wrong one, three codes in all)"),
        ("twofactor", [], "2 the account is locked for a while, 3 the daemon could not be reached"),
        ("twofactor", ["login"], "on the terminal without echo. When standard input is not a terminal, reads them"),
        ("twofactord", [], "Runs in the foreground and logs to standard error; SIGTERM or SIGINT stop it after the"),
    ])
    func help_isWrappedByTheParserOnly(program: String, command: [String], sentence: String) throws {
        let wide = try run(Binaries.url(program), command + ["--help"], environment: ["COLUMNS": "400"])
        #expect(wide.status == 0)
        #expect(wide.standardOutput.contains(sentence), "\(wide.standardOutput)")
        let narrow = try run(Binaries.url(program), command + ["--help"], environment: ["COLUMNS": "60"])
        // ArgumentParser leaves the usage line whole; everything else it wraps.
        let tooLong = narrow.standardOutput.split(separator: "\n").filter { $0.count > 60 && !$0.hasPrefix("USAGE:") }
        #expect(tooLong.isEmpty, "\(tooLong)")
    }

    @Test func login_saysSoOnATerminal_andNothingWhenScripted() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        #expect(try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pass-phrase\n").status == 0)

        let scripted = try daemon.login("alice", password: "pass-phrase")
        #expect(scripted.status == 0)
        #expect(scripted.standardOutput.isEmpty && scripted.standardError.isEmpty, "\(scripted)")

        let command = [Self.client.path, "--socket", daemon.socketPath, "login", "alice"]
        let onTerminal = try runOnTerminal(command, prompt: "Password: ", input: "pass-phrase\n")
        #expect(onTerminal.status == 0, "\(onTerminal)")
        #expect(onTerminal.standardOutput.contains("Logged in as 'alice'."), "\(onTerminal.standardOutput)")

        // A wrong password is asked for a code like a right one (no password oracle), then denied.
        let denied = try runOnTerminal(
            command,
            answers: [("Password: ", "wrong-password\n"), ("Verification code: ", "123456\n")]
        )
        #expect(denied.status == 1, "\(denied)")
        #expect(!denied.standardOutput.contains("Logged in"), "\(denied.standardOutput)")
    }
}

/// Runs `arguments` on a new pseudo-terminal through script(1), which copies our input into the
/// terminal and the terminal's output to us: waits until the terminal shows `prompt`, then types
/// `input`. Standard output and error both arrive as standard output.
func runOnTerminal(_ arguments: [String], prompt: String, input: String) throws -> CommandResult {
    try runOnTerminal(arguments, answers: [(prompt, input)])
}

/// The same, answering several prompts in turn: each answer is typed only once its prompt shows,
/// since a program reading a secret flushes what was typed ahead.
func runOnTerminal(_ arguments: [String], answers: [(prompt: String, input: String)]) throws -> CommandResult {
    let command = arguments.map { "'\($0)'" }.joined(separator: " ")
    let child = try PipedProcess(
        URL(fileURLWithPath: "/usr/bin/script"),
        ["--quiet", "--return", "--command", command, "/dev/null"]
    )
    let errors = BackgroundReader(child.error)
    // A terminal that never shows the prompt, or a child that never exits, must fail the test, not hang CI.
    let process = child.process
    DispatchQueue.global().asyncAfter(deadline: .now() + 60) { if process.isRunning { process.terminate() } }
    var shown = Data()
    var searchFrom = 0
    for (prompt, input) in answers {
        while true {
            let text = String(decoding: shown.dropFirst(searchFrom), as: UTF8.self)
            if let range = text.range(of: prompt) {
                searchFrom += text[..<range.upperBound].utf8.count
                break
            }
            let chunk = child.output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            shown.append(chunk)
        }
        child.type(input)
    }
    try child.closeInput()
    shown.append(child.output.fileHandleForReading.readDataToEndOfFile())
    child.process.waitUntilExit()
    return CommandResult(
        status: child.process.terminationStatus,
        standardOutput: String(decoding: shown, as: UTF8.self),
        standardError: errors.text()
    )
}

extension CommandLineOptionTests {
    /// The PAM and shell paths take --socket wherever it stands, like every command, but never
    /// $TWOFACTORD_SOCKET: there the environment belongs to the user being authenticated.
    @Test(arguments: [["pam", "--socket", "SOCKET"], ["--socket", "SOCKET", "pam"]])
    func pamPath_usesTheSocketOption_andIgnoresTheEnvironment(arguments: [String]) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pam-\(UUID().uuidString)")
        let given = directory.appendingPathComponent("given").path
        let fromEnvironment = directory.appendingPathComponent("environment").path
        let withOption = try run(
            Self.client,
            arguments.map { $0 == "SOCKET" ? given : $0 },
            input: "pass-phrase",
            environment: ["PAM_USER": "alice", "TWOFACTORD_SOCKET": fromEnvironment]
        )
        #expect(withOption.status != 0)
        #expect(withOption.standardError.contains(given), "\(withOption.standardError)")

        let withoutOption = try run(
            Self.client,
            ["pam"],
            input: "pass-phrase",
            environment: ["PAM_USER": "alice", "TWOFACTORD_SOCKET": fromEnvironment]
        )
        #expect(!withoutOption.standardError.contains(fromEnvironment), "\(withoutOption.standardError)")
    }
}
