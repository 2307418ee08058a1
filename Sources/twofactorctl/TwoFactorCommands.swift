import ArgumentParser
import CommandLineUI
import Glibc
import Wire

/// What `2fa enroll` and `2fa enable` share: the enrollment options and the QR-code dialogue.
struct EnrollmentOptions: ParsableArguments {
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
    @Option(help: ArgumentHelp("Seconds per code, 1 to 3600.", valueName: "seconds")) var period: UInt16 = 30
    @Flag(help: "Draw the QR code for a terminal with dark text on a light background.") var invert = false
    @Option(
        name: .customLong("qr-image"),
        help: ArgumentHelp(
            "Also write the QR code to this new file, PNG or SVG by its extension (.png, .svg), readable by you alone.",
            valueName: "path"
        )
    )
    var qrImage: String?

    func validate() throws {
        if begin, confirm != nil { throw ValidationError("--begin and --confirm exclude each other") }
        if let qrImage {
            guard qrImage.hasSuffix(".png") || qrImage.hasSuffix(".svg") else {
                throw ValidationError("--qr-image must name a .png or .svg file")
            }
            guard confirm == nil else { throw ValidationError("--qr-image shows a started enrollment: drop --confirm") }
        }
        guard (6...8).contains(digits) else { throw ValidationError("--digits must be 6, 7 or 8") }
        guard (1...3600).contains(period) else { throw ValidationError("--period must be 1 to 3600") }
    }

    /// Runs the enrollment of `name` on one session: begin, show the QR code, read the first code, confirm,
    /// and show the recovery codes once.
    func enroll(_ name: String, options: CommonOptions) throws {
        let session = try options.open()
        defer { session.close() }
        if var code = confirm {
            if code == "-" {
                guard let line = Terminal.readLine() else {
                    throw options.fail("no code on standard input", code: "usage", exitCode: 64)
                }
                code = String(decoding: line, as: UTF8.self)
            }
            try finish(name, code: code, session: session, options: options)
            return
        }
        let response = try session.send(
            .enrollBegin(user: name, algorithm: algorithm.wire, digits: digits, period: period)
        )
        guard try present(response, options: options) else { return }
        let prompt = "Enter the \(digits)-digit code the app shows: "
        let confirmed = try session.confirm(
            reading: {
                let typed = Terminal.standardInputIsTerminal ? Terminal.readSecret(prompt: prompt) : Terminal.readLine()
                guard let code = typed.map({ String(decoding: $0, as: UTF8.self) }), !code.isEmpty else {
                    throw options.fail(
                        "no code given: two-factor authentication stays as it was",
                        code: "usage",
                        exitCode: 1
                    )
                }
                return code
            },
            { confirmation(name, code: $0) }
        )
        try finish(name, with: confirmed, options: options)
    }

    /// Presents the answer to an enrollment's or an authenticator's begin as these options ask: the QR code's
    /// image file (`--qr-image`), then the URI alone (`--begin`: false, the caller ends) or the screen to scan
    /// (true: the caller reads the first code next). The URI is wiped before it returns.
    func present(_ response: Response, options: CommonOptions) throws -> Bool {
        guard case .enrollmentStarted(var uri, let expiresAt) = response else { throw options.unexpected(response) }
        defer { wipe(&uri) }
        if let qrImage { try writeImage(of: uri, to: qrImage, options: options) }
        if begin {
            Self.printStarted(uri, expiresAt: expiresAt, json: options.json)
            return false
        }
        // write(2), not `print`: a script reading the screen through a pipe has it before the wait for the code.
        EnrollmentScreen.show(otpauthURI: &uri, invertColors: invert, with: Terminal.writeOutput)
        // An empty line between the screen and the prompt.
        Terminal.writeOutput([UInt8(ascii: "\n")])
        return true
    }

    /// What `--begin` prints of a started enrollment: the otpauth URI, alone or in JSON. The program ends right
    /// after, waiting for nothing, so these copies of the secret are not wiped.
    private static func printStarted(_ uri: [UInt8], expiresAt: UInt64, json: Bool) {
        let text = String(decoding: uri, as: UTF8.self)
        if json {
            print(JSONValue.object([("otpauthURI", .string(text)), ("expiresAt", .number(Int64(expiresAt)))]).text)
        } else {
            print(text)
        }
    }

    /// Writes the QR code of `uri` to a new file only the caller may read: it holds the secret.
    private func writeImage(of uri: [UInt8], to path: String, options: CommonOptions) throws {
        guard var bytes = EnrollmentScreen.image(otpauthURI: uri, svg: path.hasSuffix(".svg")) else {
            throw options.fail(
                "the otpauth URI does not fit in a QR code: enter the secret by hand",
                code: "invalidArgument",
                exitCode: 1
            )
        }
        defer { wipe(&bytes) }
        let file = try NewPrivateFile(path, options: options)
        try file.write(bytes)
        try file.finish()
    }

    private func confirmation(_ name: String, code: String) -> Request {
        .enrollConfirm(user: name, code: code.filter { $0 != " " })
    }

    private func finish(_ name: String, code: String, session: DaemonSession, options: CommonOptions) throws {
        try finish(name, with: session.send(confirmation(name, code: code)), options: options)
    }

    private func finish(_ name: String, with response: Response, options: CommonOptions) throws {
        guard case .recoveryCodes(let codes) = response else { throw options.unexpected(response) }
        printRecoveryCodes(codes, json: options.json, heading: "Two-factor authentication is on for '\(name)'.")
    }
}

/// Shows a new set of recovery codes, once.
func printRecoveryCodes(_ codes: [String], json: Bool, heading: String) {
    if json {
        print(JSONValue.object([("ok", .bool(true)), ("recoveryCodes", .array(codes.map { .string($0) }))]).text)
        return
    }
    print(heading)
    print("")
    print(EnrollmentScreen.recoveryCodes(codes), terminator: "")
}

struct TwoFactorEnroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enroll an authenticator app for an account, as an operator.",
        discussion: """
            Shows a QR code to scan, asks for the first code (again after a wrong one, three codes in all), \
            and turns two-factor authentication on only when that code is right; then shows the account's \
            recovery codes once. An enrollment made by an \
            operator counts as enforced: the account cannot turn it off alone. For scripts: --begin prints the \
            otpauth URI, and --confirm CODE finishes the enrollment. An account enrolls itself with `2fa enable`.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String
    @OptionGroup var enrollment: EnrollmentOptions

    func run() throws { try enrollment.enroll(name, options: options) }
}

struct TwoFactorEnable: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable",
        abstract: "Turn on two-factor authentication for yourself (with --as).",
        discussion: """
            Logs in as the --as account with its password, shows a QR code to scan, and turns two-factor \
            authentication on when the first code is right. Enabled this way (state on/self), the account may \
            turn it off again with `2fa disable` and its password and code.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?
    @OptionGroup var enrollment: EnrollmentOptions

    func validate() throws {
        guard options.actingAccount != nil else {
            throw ValidationError(
                "2fa enable is an account's own: add --as ACCOUNT; an operator turns it on for an account with "
                    + "`twofactorctl 2fa enroll \(name ?? "NAME")`"
            )
        }
    }

    func run() throws { try enrollment.enroll(name ?? options.actingAccount ?? "", options: options) }
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
        abstract: "Turn two-factor authentication off and discard the secret.",
        discussion: """
            An account (with --as) may turn off only what it turned on itself (on/self); when an admin or \
            operator required it (pending, on/enforced), or its organization requires two-factor \
            authentication, ask them. Admins (own organization) and operators may turn it off for any account \
            they manage; in an organization that requires it, the account is left pending (it enrolls again at \
            its next login), not off.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?

    func validate() throws { _ = try options.account(name) }

    func run() throws {
        let name = try options.account(name)
        try options.expectDone(
            .twoFactorDisable(user: name),
            leaving: name,
            success: "Two-factor authentication is off for '\(name)'.",
            pending: { "The authenticator of '\(name)' is discarded, but '\($0)' requires two-factor authentication" }
        )
    }
}

struct TwoFactorForce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "force",
        abstract: "Require two-factor authentication for an account.",
        discussion: """
            off becomes pending (the next login shows the QR code to scan), on/self becomes on/enforced (the \
            account can no longer turn it off alone). For an operator, or an admin (with --as) of the account's \
            organization.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String

    func run() throws {
        try options.expectDone(
            .twoFactorForce(user: name),
            success: "Two-factor authentication is required for '\(name)'."
        )
    }
}

struct TwoFactorReset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Discard an account's authenticator and recovery codes; it enrolls again at its next login.",
        discussion: """
            For a lost phone: the state becomes pending, whatever it was, so an account whose two-factor \
            authentication was off must enroll at its next login too. For an operator, or an admin (with --as) \
            of the account's organization; an admin who lost its own authenticator asks an operator.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String

    func run() throws {
        try options.expectDone(
            .twoFactorReset(user: name),
            success: "Two-factor authentication of '\(name)' was reset: it enrolls again at its next login."
        )
    }
}

struct TwoFactorRecoveryCodes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery-codes",
        abstract: "Replace your recovery codes with a new set (with --as).",
        discussion: "The old codes stop working. Asks for the account's password and current code."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?

    func validate() throws {
        guard options.actingAccount != nil else {
            throw ValidationError(
                "2fa recovery-codes is an account's own: add --as ACCOUNT; an operator gives an account new codes "
                    + "by having it enroll again, with `twofactorctl 2fa reset \(name ?? "NAME")`"
            )
        }
    }

    func run() throws {
        let account = name ?? options.actingAccount ?? ""
        let response = try options.send(.recoveryCodesIssue(user: account))
        guard case .recoveryCodes(let codes) = response else { throw options.unexpected(response) }
        printRecoveryCodes(codes, json: options.json, heading: "New recovery codes for '\(account)'.")
    }
}
