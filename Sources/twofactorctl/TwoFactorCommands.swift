import ArgumentParser
import CommandLineUI
import Glibc
import Wire

struct TwoFactorEnroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enroll an authenticator app for an account.",
        discussion: """
            Without options: shows a QR code to scan, asks for the first code, and turns two-factor \
            authentication on only when that code is right. For scripts: --begin prints the otpauth \
            URI, and --confirm CODE finishes the enrollment.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String
    @Flag(help: "Only start: print the otpauth URI.") var begin = false
    @Option(
        help: ArgumentHelp(
            "Only finish, with the app's current code; '-' reads it from standard input, out of the process list.",
            valueName: "code"
        )
    )
    var confirm: String?
    @Option(help: "SHA1, SHA256 or SHA512.") var algorithm: AlgorithmArgument = .SHA1
    @Option(help: "Code length, 6 to 8.") var digits: UInt8 = 6
    @Option(help: "Seconds per code, 1 to 3600.") var period: UInt16 = 30
    @Flag(help: "Draw the QR code for a terminal with dark text on a light background.") var invert = false

    func validate() throws {
        if begin, confirm != nil { throw ValidationError("--begin and --confirm exclude each other") }
        guard (6...8).contains(digits) else { throw ValidationError("--digits must be 6, 7 or 8") }
        guard (1...3600).contains(period) else { throw ValidationError("--period must be 1 to 3600") }
    }

    func run() throws {
        if var code = confirm {
            if code == "-" {
                guard let line = Terminal.readLine() else {
                    printError("no code on standard input")
                    throw ExitCode(64)
                }
                code = String(decoding: line, as: UTF8.self)
            }
            try options.expectDone(
                .enrollConfirm(user: name, code: code),
                success: "Two-factor authentication is on for '\(name)'."
            )
            return
        }
        let response = try options.send(
            .enrollBegin(user: name, algorithm: algorithm.wire, digits: digits, period: period)
        )
        guard case .enrollmentStarted(let uri, let expiresAt) = response else { throw options.unexpected(response) }
        if begin {
            if options.json {
                print(JSONValue.object([("otpauthURI", .string(uri)), ("expiresAt", .number(Int64(expiresAt)))]).text)
            } else {
                print(uri)
            }
            return
        }
        print(EnrollmentScreen.render(otpauthURI: uri, invertColors: invert))
        // A script reading the secret through a pipe must see it before we wait for the code.
        fflush(nil)
        let prompt = "Enter the \(digits)-digit code the app shows: "
        let typed = Terminal.standardInputIsTerminal ? Terminal.readSecret(prompt: prompt) : Terminal.readLine()
        guard let code = typed.map({ String(decoding: $0, as: UTF8.self) }), !code.isEmpty else {
            printError("no code given: two-factor authentication stays as it was")
            throw ExitCode(1)
        }
        try options.expectDone(
            .enrollConfirm(user: name, code: code),
            success: "Two-factor authentication is on for '\(name)'."
        )
    }
}

enum AlgorithmArgument: String, ExpressibleByArgument, CaseIterable {
    case SHA1, SHA256, SHA512

    init?(argument: String) {
        self.init(rawValue: argument.uppercased())
    }

    var wire: WireAlgorithm {
        switch self {
        case .SHA1: .sha1
        case .SHA256: .sha256
        case .SHA512: .sha512
        }
    }
}

struct TwoFactorDisable: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable",
        abstract: "Turn two-factor authentication off."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String

    func run() throws {
        try options.expectDone(
            .twoFactorDisable(user: name),
            success: "Two-factor authentication is off for '\(name)'."
        )
    }
}
