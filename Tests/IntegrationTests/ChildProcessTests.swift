import Foundation
import Glibc
import TestSupport
import Testing

/// The children the tests start with posix_spawn inherit none of the test process's descriptors: a long-lived
/// one holding a copy of Foundation's per-`Process` socket would keep another test's `Process` from ever
/// finishing (see `ChildProcess`).
@Suite struct ChildProcessTests {
    @Test func start_givesTheChildOnlyStandardInputOutputAndError() throws {
        let pipe = try OpenPipe()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fds-\(UUID().uuidString)").path
        defer { unlink(output) }
        let child = try ChildProcess.start(["/bin/sh", "-c", "ls /proc/$$/fd"], output: output)
        #expect(ChildProcess.wait(child) == 0)
        let descriptors = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").sorted()
        #expect(descriptors == ["0", "1", "2"], "the test process holds \(pipe.descriptors)")
    }

    @Test func postgresServer_holdsNoDescriptorOfTheTestProcess() throws {
        let pipe = try OpenPipe()
        let cluster = try PostgresCluster()
        let server = try #require(cluster.serverProcess)
        let directory = "/proc/\(server)/fd"
        let links = try FileManager.default.contentsOfDirectory(atPath: directory).compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0)
        }
        #expect(!links.isEmpty, "cannot read the server's descriptors in \(directory)")
        #expect(!links.contains("pipe:[\(pipe.inode)]"), "the server holds the test's pipe: \(links)")
    }
}

/// A pipe opened the way Foundation opens its own (without close-on-exec), closed at the end of the test.
private final class OpenPipe {
    let descriptors: [Int32]
    let inode: UInt

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw Failure("pipe: errno \(errno)") }
        descriptors = ends
        var status = stat()
        fstat(ends[0], &status)
        inode = UInt(status.st_ino)
    }

    deinit { descriptors.forEach { close($0) } }
}
