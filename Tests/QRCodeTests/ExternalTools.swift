import Foundation
import Testing

/// Runs independent tools (zbarimg, rsvg-convert, python3) on files we write, so tests check our output against
/// real decoders instead of against itself.
enum ExternalTools {
    struct Result {
        var status: Int32
        var output: [UInt8]
    }

    static func isInstalled(_ tool: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { directory in
            FileManager.default.isExecutableFile(atPath: "\(directory)/\(tool)")
        }
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Read before waiting: a child blocked on a full pipe would never exit.
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: Array(output))
    }

    /// Writes `bytes` to a fresh temporary file with the given extension, hands its path to `body`, then deletes it.
    static func withTemporaryFile<T>(
        _ bytes: [UInt8],
        extension fileExtension: String,
        _ body: (String) throws -> T
    ) throws -> T {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("qrcode-test-\(UUID().uuidString).\(fileExtension)")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(url.path)
    }

    /// What zbarimg reads from an image file, or nil when it finds no symbol.
    static func zbarDecode(_ image: [UInt8], extension fileExtension: String) throws -> String? {
        try #require(isInstalled("zbarimg"), "zbarimg is missing: apt-get install zbar-tools")
        return try withTemporaryFile(image, extension: fileExtension) { path in
            let result = try run("zbarimg", ["--raw", "-q", path])
            guard result.status == 0 else {
                return nil
            }
            // --raw prints each symbol's data followed by one newline.
            var output = result.output
            if output.last == UInt8(ascii: "\n") {
                output.removeLast()
            }
            return String(decoding: output, as: UTF8.self)
        }
    }

    /// A plain PBM ("P1") of a grid of modules (`true` = dark), each `scale` pixels square. Written here, not by
    /// `QRRenderer.pbm`, so a test can check a grid that came from somewhere else (the terminal drawing).
    static func plainPBM(_ grid: [[Bool]], scale: Int) -> [UInt8] {
        let width = (grid.first?.count ?? 0) * scale
        var text = "P1\n\(width) \(grid.count * scale)\n"
        for row in grid {
            let line = row.flatMap { Array(repeating: $0 ? "1" : "0", count: scale) }.joined(separator: " ") + "\n"
            text += String(repeating: line, count: scale)
        }
        return Array(text.utf8)
    }
}
