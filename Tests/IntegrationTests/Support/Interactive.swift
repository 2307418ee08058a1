import Foundation
import TestSupport

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
    let child = try PipedProcess(executable, arguments)
    child.type(firstInput)

    let watched = markerOnStandardError ? child.error : child.output
    let other = BackgroundReader(markerOnStandardError ? child.output : child.error)

    var shown = Data()
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
        let text = String(decoding: shown, as: UTF8.self)
        if let range = text.range(of: marker), text[range.upperBound...].contains("\n") { break }
        let chunk = watched.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        shown.append(chunk)
    }
    child.type(try answer(String(decoding: shown, as: UTF8.self)))
    try child.closeInput()
    shown.append(watched.fileHandleForReading.readDataToEndOfFile())
    child.process.waitUntilExit()
    let otherText = other.text()
    let shownText = String(decoding: shown, as: UTF8.self)
    return CommandResult(
        status: child.process.terminationStatus,
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

/// Runs a twofactorctl QR-code dialogue (`2fa enroll`, `2fa add`): waits for the otpauth URI it shows, then
/// types, one line each, the codes `codes` makes of its secret.
func runQRCodeDialogue(
    _ arguments: [String],
    typing codes: (_ secret: String) throws -> [String]
) throws -> CommandResult {
    try runInteractive(
        Binaries.url("twofactorctl"),
        arguments,
        firstInput: "",
        markerOnStandardError: false,
        marker: "URI: "
    ) { shown in
        guard let uri = line(after: "URI: ", in: shown), let secret = secretParameter(ofURI: uri) else {
            throw Failure("no otpauth URI with a secret was shown: \(shown)")
        }
        return try codes(secret).map { $0 + "\n" }.joined()
    }
}

/// A code of `secret` that no step near now has: the right one moved half the code space away.
func wrongCode(for secret: String, _ variant: Int = 0) throws -> String {
    let right = try OathTool.code(secret: secret, at: unixNow())
    return String(format: "%06d", (Int(right)! + 500_000 + variant) % 1_000_000)
}
