import Foundation
import Glibc
import TestSupport
import Testing

/// PAM tests change /etc/pam.d and need pamtester to load modules as root, as CI runs them.
let runningAsRoot = getuid() == 0
let notRootMessage: Comment = "PAM tests need root (they write a service file under /etc/pam.d); CI runs them as root"

/// The uid of `nobody`: a user that is neither root nor the test's daemon user.
let nobodyUID: UInt32 = 65534

/// A system group made for one test (`--code-check-group`), removed when the value goes away.
final class ThrowawayGroup {
    let name: String
    let gid: UInt32

    init() throws {
        name = "tfd-\(UUID().uuidString.prefix(8).lowercased())"
        let added = try run(URL(fileURLWithPath: "/usr/sbin/groupadd"), ["--system", name])
        guard added.status == 0, let entry = getgrnam(name) else {
            throw Failure("groupadd \(name) failed: \(added.standardError)")
        }
        gid = entry.pointee.gr_gid
    }

    deinit { _ = try? run(URL(fileURLWithPath: "/usr/sbin/groupdel"), [name]) }
}

/// The C module, built by `make pam-module` (which `make build` and `make test` run), or the build that
/// `TWOFACTORD_PAM_MODULE` names (`make memcheck` sets it to the module built with the sanitizers).
enum PAMModule {
    static let root = String(#filePath.split(separator: "/Tests/").dropLast().joined(separator: "/Tests/"))
    static let chosen = ProcessInfo.processInfo.environment["TWOFACTORD_PAM_MODULE"].flatMap { $0.isEmpty ? nil : $0 }
    static let built = chosen ?? root + "/.build/pam/pam_twofactor.so"

    /// Builds the module when it is missing (a plain `swift test`), then copies it into `directory`
    /// so that pamtester running as another user can load it. Returns the copy's absolute path.
    static func copy(into directory: URL) throws -> String {
        if chosen == nil {
            let make = try run(
                URL(fileURLWithPath: "/usr/bin/make"),
                ["-C", root, "--no-print-directory", "pam-module"]
            )
            guard make.status == 0 else { throw Failure("make pam-module failed:\n\(make.standardError)") }
        }
        let copy = directory.appendingPathComponent("pam_twofactor.so").path
        if !FileManager.default.fileExists(atPath: copy) {
            try FileManager.default.copyItem(atPath: built, toPath: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy)
        }
        return copy
    }
}

/// How the tests start pamtester: `/usr/bin/pamtester`, after the words of `TWOFACTORD_PAMTESTER_PREFIX` when
/// it is set (`make memcheck` puts `env LD_PRELOAD=...libasan.so` there, which a module built with
/// AddressSanitizer needs loaded first).
enum PAMTester {
    static let prefix = (ProcessInfo.processInfo.environment["TWOFACTORD_PAMTESTER_PREFIX"] ?? "").split(
        separator: " "
    ).map(String.init)
    static let command = prefix + ["/usr/bin/pamtester"]
    /// pamtester under `stdbuf -oL`, which shows its messages before it waits for the next answer; the prefix
    /// goes first, since stdbuf adds its own library to LD_PRELOAD.
    static let lineBuffered = prefix + ["/usr/bin/stdbuf", "-oL", "/usr/bin/pamtester"]
    /// `command` as one shell word list, for a test's script.
    static var shellCommand: String { command.joined(separator: " ") }
}

/// A PAM service file under /etc/pam.d with a unique name, removed when the value goes away.
final class PAMService {
    let name: String
    private let path: String

    init(_ lines: [String]) throws {
        name = "tfd-test-\(UUID().uuidString.prefix(12).lowercased())"
        path = "/etc/pam.d/\(name)"
        let text = (lines + ["account required pam_permit.so"]).joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `pamtester SERVICE USER authenticate`, answering the prompts from `input` (one line each).
    /// pamtester's `authenticate`, with `flags` (such as "PAM_SILENT") passed to pam_authenticate.
    /// With `uid` pamtester runs as that user; with `realUID` it keeps euid 0 and gets that real uid, as
    /// a setuid-root program such as su does when that user runs it.
    func authenticate(
        _ user: String,
        input: String,
        rhost: String? = nil,
        uid: UInt32? = nil,
        realUID: UInt32? = nil,
        flags: String? = nil
    ) throws -> CommandResult {
        let options = rhost.map { ["-I", "rhost=\($0)"] } ?? []
        let pamtester =
            PAMTester.command + options + [name, user, flags.map { "authenticate(\($0))" } ?? "authenticate"]
        let command = realUID.map { ["/usr/bin/setpriv", "--ruid=\($0)"] + pamtester } ?? pamtester
        return try run(URL(fileURLWithPath: command[0]), Array(command.dropFirst()), input: input, uid: uid)
    }
}

/// Runs pamtester in a private mount namespace whose /dev/log is `logSocket`, so that the module's
/// syslog lines reach the test and nothing else; with `groupFile`, that file is /etc/group there; with `flags`
/// (such as "PAM_SILENT"), pam_authenticate gets them.
func pamtesterLogging(
    _ service: PAMService,
    _ user: String,
    input: String,
    logSocket: String,
    groupFile: String = "",
    flags: String? = nil
) throws
    -> CommandResult
{
    let script = """
        set -e
        mount --make-rprivate /
        real=$(mktemp -d)
        mount --rbind /dev "$real"
        mount -t tmpfs tmpfs /dev
        for device in null zero full random urandom tty; do
            touch /dev/$device
            mount --bind "$real/$device" /dev/$device
        done
        ln -s "$1" /dev/log
        if [ -n "$2" ]; then mount --bind "$2" /etc/group; fi
        set +e
        shift 2
        exec "$@"
        """
    return try run(
        URL(fileURLWithPath: "/usr/bin/unshare"),
        [
            "--mount", "/bin/sh", "-c", script, "sh", logSocket, groupFile,
        ] + PAMTester.command + [service.name, user, flags.map { "authenticate(\($0))" } ?? "authenticate"],
        input: input
    )
}

/// The syslog lines received until one contains `words` (or none came for a few seconds).
func logLine(containing words: String, from receiver: DatagramReceiver) -> String? {
    while let line = receiver.receive(timeoutSeconds: 5) {
        if line.contains(words) { return line }
    }
    return nil
}

/// pamtester's verdict, from its exit status and its last words.
extension CommandResult {
    var authenticated: Bool { status == 0 && standardOutput.contains("successfully authenticated") }
}

/// A Unix socket that accepts connections into its backlog and never answers: a hung daemon.
final class SilentListener {
    let path: String
    private let descriptor: Int32

    init(in directory: URL) throws {
        path = directory.appendingPathComponent("silent.sock").path
        descriptor = ListeningSocket.make(path)
        guard descriptor >= 0 else { throw Failure("cannot listen on \(path)") }
    }

    deinit { close(descriptor) }
}

/// A real twofactord running as another user (nobody), to prove clients refuse an untrusted peer.
final class ForeignDaemon {
    let directory: URL
    var socketPath: String { directory.appendingPathComponent("socket").path }
    private let process: RunningChild

    init(uid: UInt32) throws {
        directory = URL(fileURLWithPath: "/tmp/tfd-\(UUID().uuidString.prefix(8))")
        let state = directory.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let binary = directory.appendingPathComponent("twofactord")
        try FileManager.default.copyItem(at: Binaries.url("twofactord"), to: binary)
        for path in [directory.path, state.path, binary.path] {
            chown(path, uid, uid)
            chmod(path, path == state.path ? 0o700 : 0o755)
        }
        // Its log stays in the directory (written by root's descriptor), so that a start that fails says why.
        let logPath = directory.appendingPathComponent("daemon.log").path
        let socketPath = directory.appendingPathComponent("socket").path
        process = try RunningChild(
            [
                "/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", binary.path,
                "--socket", socketPath, "--state-dir", state.path, "--scrypt-log-n", "10",
            ],
            output: logPath
        )
        try process.waitUntilListening(on: socketPath) { [process] in
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return "the foreign twofactord did not start (running: \(process.isRunning)):\n\(text)"
        }
    }

    deinit {
        process.signal(SIGTERM)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A fake daemon on a Unix socket (run by root, so a client trusts it) that answers the frames of
/// one connection with `answers`, in order, whatever they ask: for answers no daemon should send.
/// With `readingAhead`, it reads that many frames before it answers any.
final class ScriptedDaemon {
    let path: String
    private let descriptor: Int32

    init(in directory: URL, answers: [[UInt8]], readingAhead: Int = 0) throws {
        path = directory.appendingPathComponent("scripted.sock").path
        let listener = ListeningSocket.make(path)
        guard listener >= 0 else { throw Failure("cannot listen on \(path)") }
        descriptor = listener
        Thread {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            let readFrame = { FrameSocket.readBody(connection) != nil }
            for _ in 0..<readingAhead { guard readFrame() else { return } }
            for (index, answer) in answers.enumerated() {
                if index >= readingAhead { guard readFrame() else { return } }
                _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            // Hold the connection open until the client gives up.
            _ = FrameSocket.read(connection, 1)
        }.start()
    }

    deinit { close(descriptor) }
}

/// Reading a fake daemon's connection: exact byte counts, and whole request frames.
enum FrameSocket {
    /// The body of the next frame (after its 4-byte big-endian length), or nil when the peer closed first.
    static func readBody(_ descriptor: Int32) -> [UInt8]? {
        guard let header = read(descriptor, 4) else { return nil }
        return read(descriptor, header.reduce(0) { $0 << 8 | Int($1) })
    }

    /// Exactly `count` bytes, or nil when the peer closed first.
    static func read(_ descriptor: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = bytes.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress! + offset, count - offset, 0) }
            guard got > 0 else { return nil }
            offset += got
        }
        return bytes
    }
}

enum ListeningSocket {
    /// A bound, listening Unix socket at `path` that everyone may connect to, or -1.
    static func make(_ path: String) -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            close(descriptor)
            return -1
        }
        chmod(path, 0o666)
        return descriptor
    }
}
