import ArgumentParser
import Glibc
import LoadGenerator

@main
struct TwofactorBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twofactor-bench",
        abstract: "Measure twofactord: checks per second, latency percentiles, errors and the daemon's peak memory.",
        discussion: """
            Starts its own twofactord on a fresh state directory under /tmp (or uses --socket), creates \
            --accounts accounts through the protocol as an operator (or, with --preload, writes them into the \
            state directory before the daemon starts), enrolls each with a short TOTP period \
            so that every account has a fresh code every period, then drives --connections connections, \
            one request at a time each, for --seconds (or --count requests). Codes are computed here; \
            each account's time step is used once, as the daemon requires.

            Modes: verify (CodeCheck, code only), login (password and code), mixed (verify with every \
            tenth code wrong: each must be denied), replay (each accepted code is sent again: each replay \
            must be denied).

            Exit status: 0 when every request got the answer it must get, 1 otherwise (see errors), \
            2 when the benchmark could not run.
            """,
        subcommands: [Verify.self, Login.self, Mixed.self, Replay.self]
    )
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Code-only checks (CodeCheck) with fresh valid codes.")
    @OptionGroup var options: BenchCommandOptions
    func run() throws { try options.run(.verify) }
}

struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Logins with the password and a fresh valid code.")
    @OptionGroup var options: BenchCommandOptions
    func run() throws { try options.run(.login) }
}

struct Mixed: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Code-only checks, every tenth with a wrong code.")
    @OptionGroup var options: BenchCommandOptions
    func run() throws { try options.run(.mixed) }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Each accepted code sent a second time.")
    @OptionGroup var options: BenchCommandOptions
    func run() throws { try options.run(.replay) }
}

struct BenchCommandOptions: ParsableArguments {
    @Option(help: "Concurrent connections, each with one request in flight.")
    var connections: Int = 32

    @Option(help: "How long to drive the load, in seconds.")
    var seconds: Double = 10

    @Option(help: "Stop after this many requests in all, if that comes before --seconds.")
    var count: Int?

    @Option(help: "Accounts to create; each accepts one code per period, so use at least the checks/s you expect.")
    var accounts: Int = 1024

    @Option(help: "The accounts' TOTP period in seconds (1 to 3600).")
    var period: UInt16 = 1

    @Option(help: ArgumentHelp("Use the twofactord listening here instead of starting one.", valueName: "path"))
    var socket: String?

    @Option(name: .customLong("daemon-pid"), help: "With --socket: the daemon's pid, to report its peak memory.")
    var daemonPID: Int32?

    @Option(help: ArgumentHelp("The twofactord to start (default: the one beside this program).", valueName: "path"))
    var daemon: String?

    @Option(name: .customLong("scrypt-log-n"), help: "The started daemon's --scrypt-log-n.")
    var scryptLogN: Int = 10

    @Option(help: "The started daemon's --workers, when given.")
    var workers: Int?

    @Option(
        name: .customLong("raw-scrypt-seconds"),
        help: ArgumentHelp(
            "login: measure the machine's raw scrypt rate for this long before the load and again after it; 0 skips it.",
            discussion: "At --scrypt-log-n (give the running daemon's with --socket), on --workers threads (2, the "
                + "daemon's default, unless given): logins/s are then reported as a fraction of it."
        )
    )
    var rawScryptSeconds: Double = 3

    @Flag(help: "Keep the started daemon's directory (state and log) instead of removing it.")
    var keep = false

    @Option(
        name: .customLong("export-secrets"),
        help: ArgumentHelp("Write each account's name and hex TOTP secret to this new file.", valueName: "path")
    )
    var exportSecrets: String?

    @Flag(
        help: ArgumentHelp(
            "Write the accounts straight into the started daemon's state directory before it starts, instead of "
                + "through the protocol (for --accounts in the millions).",
            discussion: "All accounts share one password hash; no audit records are written."
        )
    )
    var preload = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard connections >= 1 else { throw ValidationError("--connections must be at least 1") }
        guard seconds > 0 else { throw ValidationError("--seconds must be more than 0") }
        guard accounts >= 1 else { throw ValidationError("--accounts must be at least 1") }
        guard (1...3600).contains(period) else { throw ValidationError("--period must be 1 to 3600 seconds") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if daemonPID != nil, socket == nil { throw ValidationError("--daemon-pid goes with --socket") }
        if socket != nil, preload {
            throw ValidationError("--preload writes into the state directory of the daemon it starts; drop --socket")
        }
        if !(10...22).contains(scryptLogN) {
            throw ValidationError("--scrypt-log-n must be 10 to 22, as twofactord takes it")
        }
        guard rawScryptSeconds >= 0 else { throw ValidationError("--raw-scrypt-seconds must be 0 or more") }
        if let workers, !(1...64).contains(workers) { throw ValidationError("--workers must be 1 to 64") }
        if socket != nil, daemon != nil {
            throw ValidationError("--daemon starts a daemon; --socket uses a running one")
        }
    }

    func run(_ mode: BenchMode) throws {
        var daemonArguments = ["--scrypt-log-n", "\(scryptLogN)"]
        if let workers { daemonArguments += ["--workers", "\(workers)"] }
        var options = BenchOptions(
            plan: LoadPlan(mode: mode, connections: connections, seconds: seconds, count: count),
            accounts: accounts,
            period: period,
            socketPath: socket,
            daemonPID: daemonPID,
            daemonExecutable: daemon ?? siblingExecutable("twofactord"),
            daemonArguments: daemonArguments,
            keepDirectory: keep
        )
        options.exportSecretsPath = exportSecrets
        options.preload = preload
        options.scryptLogN = UInt8(scryptLogN)
        options.rawScryptSeconds = rawScryptSeconds
        options.hashThreads = workers ?? 2
        var report: BenchReport
        do {
            report = try runBenchmark(options) { line in
                if !json { printError("twofactor-bench: \(line)") }
            }
        } catch {
            printError("twofactor-bench: \(error)")
            throw ExitCode(2)
        }
        print(json ? report.json() : report.text())
        if report.errors > 0 { throw ExitCode(1) }
    }
}

/// `name` in the folder of this executable, where SwiftPM puts every product of the package.
private func siblingExecutable(_ name: String) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return name }
    let path = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let slash = path.lastIndex(of: "/") else { return name }
    return String(path[..<slash]) + "/" + name
}

private func printError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
