import DaemonClient
import Glibc

/// Why the benchmark could not run, as a sentence a person can act on.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A twofactord the benchmark started itself, on a socket and state directory of its own.
/// Started with posix_spawn (not Foundation's Process, which the test suite found unreliable with
/// children that exec), its output going to a log file beside the state.
public final class BenchDaemon {
    public let pid: pid_t
    public let socketPath: String
    public let logPath: String
    private var running = true

    /// Starts `executable` with `arguments` plus `--socket` and `--state-dir`, then waits (at most
    /// 30 s) until its socket answers a Hello.
    public init(executable: String, directory: String, arguments: [String]) throws(BenchError) {
        socketPath = directory + "/socket"
        logPath = directory + "/daemon.log"
        let stateDirectory = directory + "/state"
        guard mkdir(stateDirectory, 0o700) == 0 || errno == EEXIST else {
            throw BenchError("cannot create \(stateDirectory): \(String(cString: strerror(errno)))")
        }
        guard access(executable, X_OK) == 0 else {
            throw BenchError("no twofactord at \(executable): build it (swift build) or pass --daemon PATH")
        }
        let argv = [executable, "--socket", socketPath, "--state-dir", stateDirectory] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var child = pid_t()
        let status = posix_spawn(&child, executable, &actions, nil, &cArguments, environ)
        guard status == 0 else {
            throw BenchError("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
        let deadline = BenchClock.nanoseconds() + 30_000_000_000
        while true {
            if (try? DaemonConnection(socketPath: socketPath, timeoutSeconds: 5)) != nil { break }
            var exitStatus: Int32 = 0
            if waitpid(pid, &exitStatus, WNOHANG) == pid {
                running = false
                throw BenchError("twofactord exited at start; its log is \(logPath)")
            }
            guard BenchClock.nanoseconds() < deadline else {
                stop()
                throw BenchError("twofactord did not listen on \(socketPath) within 30 s; its log is \(logPath)")
            }
            usleep(20_000)
        }
    }

    deinit { stop() }

    /// SIGTERM, then waits for the exit (the daemon drains and exits within its own deadline).
    public func stop() {
        guard running else { return }
        running = false
        kill(pid, SIGTERM)
        var exitStatus: Int32 = 0
        _ = waitpid(pid, &exitStatus, 0)
    }
}

/// The peak resident set size of `pid` in KiB (VmHWM of /proc/PID/status), or nil when unreadable.
public func peakResidentKiB(of pid: pid_t) -> Int? {
    guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard text.hasPrefix("VmHWM:") else { continue }
        return Int(text.dropFirst(6).filter { $0.isNumber })
    }
    return nil
}
