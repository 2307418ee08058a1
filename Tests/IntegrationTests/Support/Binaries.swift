import Foundation

/// The built executables sit beside the test bundle in `.build/<triple>/debug`.
enum Binaries {
    static let directory: URL = {
        if let override = ProcessInfo.processInfo.environment["TWOFACTORD_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent()
    }()

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
}

/// What a finished command printed and how it ended.
struct CommandResult: Sendable {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// Set once per test process, before the first write to a child.
let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

/// A started child process with its three standard streams on pipes.
struct PipedProcess {
    let process = Process()
    let input = Pipe()
    let output = Pipe()
    let error = Pipe()

    /// `environment` adds to (or, with a nil value, removes from) the test process's environment.
    init(_ executable: URL, _ arguments: [String], environment: [String: String?] = [:]) throws {
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            var merged = ProcessInfo.processInfo.environment
            for (name, value) in environment { merged[name] = value }
            process.environment = merged
        }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        try process.run()
    }

    /// A child that exits without reading (a refused login) must not kill the test process:
    /// SIGPIPE is ignored, and the write's EPIPE is dropped.
    func type(_ text: String) {
        _ = ignoreBrokenPipes
        try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    func closeInput() throws {
        try input.fileHandleForWriting.close()
    }
}

/// Reads a pipe to its end on its own thread, so that a chatty child never blocks on a full
/// pipe while the test reads the other one.
final class BackgroundReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ pipe: Pipe) {
        Thread {
            self.data = pipe.fileHandleForReading.readDataToEndOfFile()
            self.done.signal()
        }.start()
    }

    /// Everything the pipe carried; waits for its end.
    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Runs one of our binaries (or any tool) to completion, feeding `input` on standard input.
/// Secrets go through standard input, never argv, as the product requires. With `uid`, the
/// command runs as that user (through setpriv), to test what SO_PEERCRED lets it do.
func run(
    _ executable: URL,
    _ arguments: [String],
    input: String = "",
    uid: UInt32? = nil,
    environment: [String: String?] = [:]
) throws -> CommandResult {
    let child =
        if let uid {
            try PipedProcess(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", executable.path] + arguments,
                environment: environment
            )
        } else {
            try PipedProcess(executable, arguments, environment: environment)
        }
    return try child.finish(input: input)
}

extension PipedProcess {
    /// Types `input`, closes standard input, and waits for the child to end, reading both its outputs.
    func finish(input: String) throws -> CommandResult {
        type(input)
        try closeInput()
        let errors = BackgroundReader(error)
        let output = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            standardOutput: String(decoding: output, as: UTF8.self),
            standardError: errors.text()
        )
    }
}

/// A value written by one thread and read by another.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: Value

    init(_ value: Value) { storage = value }

    var value: Value { lock.withLock { storage } }

    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&storage) } }
}
