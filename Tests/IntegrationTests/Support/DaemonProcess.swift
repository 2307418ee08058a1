import Foundation
import Glibc
import TestSupport

/// A real twofactord on a temporary socket and state directory, with a cheap scrypt cost so
/// that tests stay fast (the cost is a parameter of the same code path).
final class DaemonProcess: @unchecked Sendable {
    let directory: URL
    var socketPath: String { directory.appendingPathComponent("socket").path }
    var stateDirectory: String { directory.appendingPathComponent("state").path }
    private(set) var process: RunningChild?
    private var logFile: URL { directory.appendingPathComponent("daemon.log") }

    init() throws {
        // Short: a Unix socket path must fit in 108 bytes.
        directory = URL(fileURLWithPath: "/tmp/tfd-\(UUID().uuidString.prefix(8))")
        // World-searchable, so that tests running a client as another user reach the socket.
        try FileManager.default.createDirectory(
            at: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o755]
        )
        try FileManager.default.createDirectory(
            atPath: stateDirectory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
    }

    deinit {
        if let process, process.isRunning {
            process.signal(SIGTERM)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the daemon and waits (bounded) until its socket accepts connections. With a
    /// `launcher` (e.g. `["/usr/bin/prlimit", "--nofile=256:256"]`), that command execs the daemon.
    /// `environment` adds variables to the daemon's environment (NOTIFY_SOCKET, JOURNAL_STREAM...).
    func start(extraArguments: [String] = [], launcher: [String] = [], environment: [String: String] = [:]) throws {
        let arguments =
            launcher + [Binaries.url("twofactord").path, "--socket", socketPath, "--state-dir", stateDirectory]
            + ["--scrypt-log-n", "10", "--log-level", "debug"] + extraArguments
        let process = try RunningChild(arguments, output: logFile.path, environment: environment)
        self.process = process
        try process.waitUntilListening(on: socketPath) { "twofactord did not start listening:\n\(self.log())" }
    }

    /// Sends `signal` and returns the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard let process else { return -1 }
        process.signal(signal)
        self.process = nil
        return process.waitUntilExit()
    }

    func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    // MARK: Driving the real CLIs

    /// Runs `twofactorctl GROUP COMMAND --socket PATH ARGS...`.
    func ctl(_ arguments: [String], input: String = "", uid: UInt32? = nil) throws -> CommandResult {
        let command = Array(arguments.prefix(2)) + ["--socket", socketPath] + arguments.dropFirst(2)
        return try run(try executable("twofactorctl", runnableBy: uid), command, input: input, uid: uid)
    }

    /// Starts `twofactorctl GROUP COMMAND --socket PATH ARGS...` (as `uid`, through setpriv) and leaves it
    /// running, for a test that types its input a line at a time.
    func startCtl(_ arguments: [String], uid: UInt32? = nil) throws -> PipedProcess {
        let command = Array(arguments.prefix(2)) + ["--socket", socketPath] + arguments.dropFirst(2)
        let executable = try executable("twofactorctl", runnableBy: uid)
        guard let uid else { return try PipedProcess(executable, command) }
        return try PipedProcess(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", executable.path] + command
        )
    }

    /// Runs `twofactor login USER`, typing the password and, when given, the code as two lines.
    func login(_ user: String, password: String, code: String? = nil, uid: UInt32? = nil) throws -> CommandResult {
        let input = password + "\n" + (code.map { $0 + "\n" } ?? "")
        let executable = try executable("twofactor", runnableBy: uid)
        return try run(executable, ["login", "--socket", socketPath, user], input: input, uid: uid)
    }

    /// Runs `twofactor helper --socket PATH ARGS...` as it must run, as a user of its own: `nobody` when the tests
    /// run as root (as root it refuses to start), with `groupID` as its group when given.
    func helper(_ arguments: [String] = [], input: String, groupID: UInt32? = nil) throws -> CommandResult {
        try startHelper(arguments, groupID: groupID).finish(input: input)
    }

    /// Starts `twofactor helper` as `helper` runs it and leaves it running, for a test that types its requests.
    func startHelper(_ arguments: [String] = [], groupID: UInt32? = nil) throws -> PipedProcess {
        let command = ["helper", "--socket", socketPath] + arguments
        guard getuid() == 0 else { return try PipedProcess(Binaries.url("twofactor"), command) }
        let executable = try executable("twofactor", runnableBy: nobodyUID)
        return try PipedProcess(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=\(nobodyUID)", "--regid=\(groupID ?? nobodyUID)", "--clear-groups", executable.path] + command
        )
    }

    /// The build folder may not be reachable by other users, so a copy in our own folder serves them.
    private func executable(_ name: String, runnableBy uid: UInt32?) throws -> URL {
        guard uid != nil else { return Binaries.url(name) }
        let copy = directory.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: copy.path) {
            try FileManager.default.copyItem(at: Binaries.url(name), to: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
        }
        return copy
    }

    /// Creates an account and enrolls it with `--begin`/`--confirm` at `period`. Returns its base32
    /// secret and the step of the confirming code, which is now the account's last accepted step.
    /// With `codeInArgv`, the code is passed as `--confirm CODE`; otherwise as `--confirm -` on standard input.
    func enrolledAccount(
        _ user: String,
        password: String,
        period: Int = 3600,
        codeInArgv: Bool = false
    ) throws -> (secret: String, step: Int64) {
        let added = try ctl(["user", "add", user, "--password-stdin"], input: password + "\n")
        guard added.status == 0 else { throw Failure("user add: \(added.standardError)") }
        let begun = try ctl(["2fa", "enroll", user, "--begin", "--period", "\(period)"])
        let uri = begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        guard begun.status == 0, let secret = secretParameter(ofURI: uri) else {
            throw Failure("enroll --begin: \(begun.standardError)")
        }
        let now = unixNow()
        let code = try OathTool.code(secret: secret, at: now, period: period)
        let confirmed =
            codeInArgv
            ? try ctl(["2fa", "enroll", user, "--confirm", code])
            : try ctl(["2fa", "enroll", user, "--confirm", "-"], input: code + "\n")
        guard confirmed.status == 0 else { throw Failure("enroll --confirm: \(confirmed.standardError)") }
        return (secret, now / Int64(period))
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension RunningChild {
    /// Returns once `socketPath` accepts connections; throws `whyNot()` when the process ends first or 30 s pass.
    func waitUntilListening(on socketPath: String, whyNot: () -> String) throws {
        let deadline = Date().addingTimeInterval(30)
        while !RawSocket.canConnect(socketPath) {
            guard isRunning, Date() < deadline else { throw Failure(whyNot()) }
            usleep(20_000)
        }
    }
}
