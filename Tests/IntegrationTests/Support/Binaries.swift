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

/// Runs one of our binaries (or any tool) to completion, feeding `input` on standard input.
/// Secrets go through standard input, never argv, as the product requires. With `uid`, the
/// command runs as that user (through setpriv), to test what SO_PEERCRED lets it do.
func run(_ executable: URL, _ arguments: [String], input: String = "", uid: UInt32? = nil) throws -> CommandResult {
    let process = Process()
    if let uid {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", executable.path] + arguments
    } else {
        process.executableURL = executable
        process.arguments = arguments
    }
    let stdin = Pipe()
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    // Read both pipes before waiting, so that a chatty child never blocks on a full pipe.
    let errorData = Locked<Data?>(nil)
    let errorReader = Thread { errorData.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
    errorReader.start()
    let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while errorData.value == nil { usleep(1000) }
    return CommandResult(
        status: process.terminationStatus,
        standardOutput: String(decoding: outputData, as: UTF8.self),
        standardError: String(decoding: errorData.value ?? Data(), as: UTF8.self)
    )
}

/// A value written by one thread and read by another.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: Value

    init(_ value: Value) { storage = value }

    var value: Value { lock.withLock { storage } }

    func set(_ value: Value) { lock.withLock { storage = value } }

    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&storage) } }
}
