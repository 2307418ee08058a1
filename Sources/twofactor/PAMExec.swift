import ArgumentParser
import CommandLineOptions
import CommandLineUI
import DaemonClient
import Glibc
import Wire

// MUSTs of `twofactor pam`:
// - exit 0 only when the daemon answered `ok` to this login; every other path exits non-zero;
// - recovery codes in an answer (a login that finished an enrollment) are written out, never dropped;
// - the socket comes from the command line (the PAM configuration), never from the environment;
// - the user and the origin come from the PAM items pam_exec appends to its child's environment
//   (PAM_USER, PAM_SERVICE, PAM_RHOST), never from the PAM environment before them, which pam_env may
//   fill from a file the user writes; the password arrives on standard input only;
// - a real uid other than root (su or sudo run by a local user; pam_exec keeps it unless given
//   `seteuid`) is reported as the invoker, so that the daemon throttles that user, not the account.

struct PAMExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pam",
        abstract: "Check a login for pam_exec (auth, with expose_authtok).",
        discussion: """
            Reads the user from PAM_USER and the password from standard input, as pam_exec passes them \
            with expose_authtok, and exits 0 only when twofactord accepts the login. pam_exec cannot ask \
            a second question, so an account with two-factor on needs --single-prompt: the password \
            immediately followed by the code from the authenticator app, or the password, a space and a \
            recovery code as shown (XXXX-XXXX-XXXX-XXXX). An account that must still enroll is refused with \
            a message to run `twofactor login` first.
            """
    )

    @OptionGroup var options: ConnectionOptions

    @Flag(name: .customLong("single-prompt"), help: "The password is followed by the code or a recovery code.")
    var singlePrompt = false

    @Option(name: .long, help: "The length of the code at the end of the password with --single-prompt (6 to 8).")
    var digits: Int = Self.defaultDigits

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for the daemon.", valueName: "seconds"))
    var timeout: Int = Self.defaultTimeout

    @Option(
        name: .customLong("daemon-user"),
        help: ArgumentHelp("The user twofactord runs as (trusted besides root).", valueName: "user")
    )
    var daemonUser: String = DaemonConnection.defaultDaemonUser

    static let defaultDigits = 6
    static let digitsRange = 6...8
    static let defaultTimeout = 10
    static let timeoutRange = 1...600

    func validate() throws {
        guard Self.digitsRange.contains(digits) else { throw ValidationError("--digits must be 6, 7 or 8") }
        guard Self.timeoutRange.contains(timeout) else {
            throw ValidationError("--timeout must be 1 to 600 seconds")
        }
    }

    func run() throws {
        try PAMCheck(
            socketPath: options.socketPathIgnoringEnvironment,
            singlePrompt: singlePrompt,
            digits: digits,
            timeout: timeout,
            daemonUser: daemonUser
        ).run()
    }
}

/// One `twofactor pam`, whatever parsed its command line: ArgumentParser through `PAMExec`, or
/// `QuickPAMArguments` for the plain command lines that pam_exec runs.
struct PAMCheck {
    /// From the command line only (see the MUSTs above).
    let socketPath: String
    let singlePrompt: Bool
    let digits: Int
    let timeout: Int
    let daemonUser: String

    func run() throws(ExitCode) {
        let environment = PAMEnvironment()
        if let type = environment.type, type != "auth" {
            throw finish(.denied, "pam_exec called this for '\(type)': use it in the auth stack only")
        }
        guard let user = environment.user, !user.isEmpty else {
            throw finish(
                .usage,
                "PAM_USER is not set after the last PAM_SERVICE: run this from pam_exec (auth, expose_authtok), "
                    + "which appends both in that order"
            )
        }
        var entry = readAll(STDIN_FILENO, limit: 512)
        defer { wipe(&entry) }
        // pam_exec sends no terminator; one typed by hand (tests, scripts) is not part of the password.
        while let last = entry.last, last == 0 || last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            entry.removeLast()
        }
        var code = ""
        if singlePrompt, let split = splitTrailingCode(&entry, digits: digits) { code = split }

        let connection: DaemonConnection
        do {
            connection = try DaemonConnection(
                socketPath: socketPath,
                timeoutSeconds: timeout,
                trusted: TrustedDaemon(daemonUser: daemonUser, trustingCaller: false)
            )
        } catch {
            throw finish(.daemonUnavailable, "\(error)")
        }
        defer { connection.close() }
        let request = Request.loginFrom(
            user: user,
            password: entry,
            codeKind: code.isEmpty ? .none : CodeKind(typed: code),
            code: code,
            origin: environment.origin(invokerUID: LoginOrigin.invoker(realUID: getuid()))
        )
        let answer: Response
        do {
            // The password's only use: it is wiped before the wait for the answer.
            answer = try connection.send(request, afterWriting: { wipe(&entry) })
        } catch {
            throw finish(.daemonUnavailable, "\(error)")
        }
        switch answer {
        case .loginResult(.ok, _, _):
            return
        case .recoveryLogin(let remaining):
            // What the PAM module and `twofactor login` say, with the way to a new set when few are left.
            Terminal.writeError(LoginTexts.recoveryLogin(user: user, remaining: remaining))
            return
        case .recoveryCodes(let codes):
            // This login finished an enrollment that another login had offered: its answer is the only showing of
            // the recovery codes, and pam_exec's `stdout` option shows what this writes to the user.
            Terminal.writeError(LoginTexts.enrolled(user: user, recoveryCodes: codes))
            return
        case .loginResult(.locked, let retryAfter, _):
            throw finish(.locked, LoginTexts.locked(user: user, retryAfter: retryAfter))
        case .loginResult(.codeNeeded, _, _) where code.isEmpty && singlePrompt:
            throw finish(
                .denied,
                "login denied: type the password immediately followed by the verification code, or the password, "
                    + "a space and a recovery code (XXXX-XXXX-XXXX-XXXX)"
            )
        case .loginResult(.codeNeeded, _, _) where code.isEmpty:
            // Without --single-prompt a typed code is part of the password: telling the user to type it is no help.
            throw finish(
                .denied,
                "login denied: the password is wrong, or the account needs a code, which this pam_exec line cannot "
                    + "take: ask the administrator to add --single-prompt to it"
            )
        case .enrollScreen, .loginResult(.enroll, _, _):
            throw finish(.denied, "login denied: two-factor login must be set up first; run `twofactor login \(user)`")
        case .error(_, let message):
            throw finish(.daemonUnavailable, message)
        default:
            throw finish(.denied, "login denied")
        }
    }
}

/// The PAM items pam_exec passes its child. pam_exec's environment is the PAM environment first
/// (pam_getenvlist, which pam_env may fill, even from a file the user writes), then the items that are set,
/// from PAM_SERVICE (always set) on, then PAM_TYPE. So an item is read only after the last PAM_SERVICE entry:
/// a PAM_RHOST or PAM_USER that the PAM environment holds before it is never taken for the item.
struct PAMEnvironment {
    private let items: [String: String]

    init(_ entries: [String] = PAMEnvironment.processEnvironment()) {
        let itemsStart = entries.lastIndex { $0.hasPrefix("PAM_SERVICE=") } ?? entries.startIndex
        var items: [String: String] = [:]
        for entry in entries[itemsStart...] {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            items[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        self.items = items
    }

    var user: String? { items["PAM_USER"] }
    var type: String? { items["PAM_TYPE"] }
    /// The origin pam_exec describes, with the invoker the process itself knows.
    func origin(invokerUID: UInt32?) -> LoginOrigin {
        // A value over the protocol's limit is dropped rather than cut inside a UTF-8 sequence.
        let service = items["PAM_SERVICE"] ?? ""
        let host = items["PAM_RHOST"] ?? ""
        return LoginOrigin(
            service: service.utf8.count <= 64 ? service : "",
            remoteHost: host.utf8.count <= 255 ? host : "",
            invokerUID: invokerUID
        )
    }

    /// This process's environment, in order.
    static func processEnvironment() -> [String] {
        var entries: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            entries.append(String(cString: pointer))
            entry += 1
        }
        return entries
    }
}

/// Moves the code at the end of a --single-prompt entry out of `entry`, or nil: the last `digits` characters when
/// they are all ASCII digits ("password123456"), or a recovery code in its shown shape after a space
/// ("password K7QF-2M3D-XR4T-6BWC"), the space going with it. Never both: a recovery code ends in a dash and four
/// characters. pam_twofactor.so's `single_prompt` splits alike (`split_code`).
func splitTrailingCode(_ entry: inout [UInt8], digits: Int) -> String? {
    if let code = splitTrailingRecoveryCode(&entry) { return code }
    guard entry.count >= digits,
        entry.suffix(digits).allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
    else { return nil }
    let code = String(decoding: entry.suffix(digits), as: UTF8.self)
    for index in entry.count - digits..<entry.count { entry[index] = 0 }
    entry.removeLast(digits)
    return code
}

/// Moves " K7QF-2M3D-XR4T-6BWC" (four groups of four base32 characters, letters in either case) off the end of
/// `entry`, and returns the code without the space; nil when the entry does not end so.
private func splitTrailingRecoveryCode(_ entry: inout [UInt8]) -> String? {
    let length = 19
    guard entry.count > length, entry[entry.count - length - 1] == UInt8(ascii: " ") else { return nil }
    let shaped = entry.suffix(length).enumerated().allSatisfy { offset, byte in
        guard offset % 5 != 4 else { return byte == UInt8(ascii: "-") }
        return (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "2")...UInt8(ascii: "7")).contains(byte)
    }
    guard shaped else { return nil }
    let code = String(decoding: entry.suffix(length), as: UTF8.self)
    for index in entry.count - length - 1..<entry.count { entry[index] = 0 }
    entry.removeLast(length + 1)
    return code
}

/// Reads `descriptor` to its end, at most `limit` bytes (more is cut: no password is that long).
func readAll(_ descriptor: Int32, limit: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: limit)
    var count = 0
    while count < limit {
        // Into the array itself: through `bytes[count...]` the slice gets a copy, left unwiped when freed.
        let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + count, limit - count) }
        if got > 0 {
            count += got
        } else if got < 0, errno == EINTR {
            continue
        } else {
            break
        }
    }
    let result = Array(bytes[..<count])
    wipe(&bytes)
    return result
}

/// Writes `message` to standard error and returns the exit code for `status`.
func finish(_ status: LoginExit, _ message: String) -> ExitCode {
    Terminal.writeError("twofactor: \(message)\n")
    return ExitCode(status.rawValue)
}
