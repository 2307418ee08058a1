import Foundation

/// Runs a command that shows something before it asks for more input, as a person would use it:
/// type `firstInput`, wait until `stream` shows a complete line starting with `marker`, then type
/// what `answer` makes of everything shown so far.
func runInteractive(
    _ executable: URL,
    _ arguments: [String],
    firstInput: String,
    markerOnStandardError: Bool,
    marker: String,
    answer: (String) throws -> String
) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let stdin = Pipe()
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(Data(firstInput.utf8))

    let watched = markerOnStandardError ? stderr : stdout
    let other = markerOnStandardError ? stdout : stderr
    let otherData = Locked<Data?>(nil)
    Thread { otherData.set(other.fileHandleForReading.readDataToEndOfFile()) }.start()

    var shown = Data()
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
        let text = String(decoding: shown, as: UTF8.self)
        if let range = text.range(of: marker), text[range.upperBound...].contains("\n") { break }
        let chunk = watched.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        shown.append(chunk)
    }
    stdin.fileHandleForWriting.write(Data(try answer(String(decoding: shown, as: UTF8.self)).utf8))
    try stdin.fileHandleForWriting.close()
    shown.append(watched.fileHandleForReading.readDataToEndOfFile())
    process.waitUntilExit()
    while otherData.value == nil { usleep(1000) }
    let otherText = String(decoding: otherData.value ?? Data(), as: UTF8.self)
    let shownText = String(decoding: shown, as: UTF8.self)
    return CommandResult(
        status: process.terminationStatus,
        standardOutput: markerOnStandardError ? otherText : shownText,
        standardError: markerOnStandardError ? shownText : otherText
    )
}

/// The value after `marker` on the line where it appears.
func line(after marker: String, in text: String) -> String? {
    for line in text.split(separator: "\n") {
        if let range = line.range(of: marker) {
            return String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
}
