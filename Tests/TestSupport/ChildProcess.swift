import CSpawnCloseFrom
import Foundation
import Glibc

/// Children started with posix_spawn that inherit no descriptor but their standard input, output and error.
///
/// Foundation's `Process` learns that its child exited when the last copy of a socket it gives the child is
/// closed. A plain posix_spawn copies every descriptor without close-on-exec into the new process, Foundation's
/// socket of a `Process` another test is starting included; when that child lives long (a PostgreSQL server
/// lives until the test process exits), that `Process` never finishes and the test run hangs. So every
/// posix_spawn of the tests goes through `ChildProcess.start`.
public enum ChildProcess {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts `arguments[0]` (an absolute path) with standard input from /dev/null and standard output and
    /// error appended to `output` (created with mode 0600), or thrown away without one; `environment` adds to
    /// or replaces variables of this process's environment. The caller waits for it.
    public static func start(
        _ arguments: [String],
        output: String? = nil,
        environment: [String: String] = [:]
    ) throws(Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        spawn_file_actions_add_close_from(&actions, 3)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var variables: [UnsafeMutablePointer<CChar>?] = []
        if !environment.isEmpty {
            let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            variables = merged.map { strdup($0.key + "=" + $0.value) } + [nil]
        }
        defer { variables.forEach { free($0) } }
        var pid: pid_t = 0
        let result =
            variables.isEmpty
            ? posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
            : posix_spawn(&pid, arguments[0], &actions, nil, &argv, &variables)
        guard result == 0 else {
            throw Failure(description: "cannot run \(arguments[0]): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Waits for `pid` to end: its exit status, or 128 plus the signal that ended it.
    @discardableResult
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return RunningChild.exitStatus(status)
    }
}

/// A child started with `ChildProcess.start` that runs until it is stopped, as a test's daemon does.
public final class RunningChild: @unchecked Sendable {
    public let processIdentifier: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    public init(_ arguments: [String], output: String? = nil, environment: [String: String] = [:]) throws {
        processIdentifier = try ChildProcess.start(arguments, output: output, environment: environment)
    }

    public var isRunning: Bool {
        lock.withLock {
            if exitStatus != nil { return false }
            var status: Int32 = 0
            guard waitpid(processIdentifier, &status, WNOHANG) == processIdentifier else { return true }
            exitStatus = Self.exitStatus(status)
            return false
        }
    }

    public func signal(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }

    /// Waits for the child to end: its exit status, or 128 plus the signal that ended it.
    @discardableResult
    public func waitUntilExit() -> Int32 {
        lock.withLock {
            if let exitStatus { return exitStatus }
            let status = ChildProcess.wait(processIdentifier)
            exitStatus = status
            return status
        }
    }

    fileprivate static func exitStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
