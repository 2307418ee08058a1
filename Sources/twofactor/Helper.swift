import ArgumentParser
import CommandLineOptions
import CommandLineUI
import DaemonClient
import Glibc
import Wire

// MUSTs of `twofactor helper`:
// - one answer per request, in order, each a JSON object with either the daemon's answer or an
//   "error" sentence; a request the helper cannot read is answered, not fatal;
// - passwords and codes are never echoed back, logged or put in an error;
// - native-messaging frames are checked against a limit before they are buffered;
// - a self-service request is sent only while the connection acts for that request's user (its last login
//   answered ok): run by root or an operator, the helper would otherwise lend the peer's rights to whoever
//   writes its input;
// - a request goes out on a new connection when the daemon ended the last one (idle for 5 minutes, a restart),
//   found before sending; a request that failed once written is not sent again (it may have taken effect);
// - it does not run as root: whoever writes its input logs in with the standing of its peer credentials, and a
//   root peer's wrong passwords count against the account as a whole, which backs off for sshd from every host.

struct Helper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "helper",
        abstract: "Answer JSON requests on standard input, for scripts and browser extensions.",
        discussion: """
            Each request is a JSON object on one line (or, with --native-messaging, in the browsers' \
            native-messaging framing: a 4-byte native-endian length, then the JSON text). Requests: \
            {"op":"login","user":U,"password":P,"code":C} (code optional; a recovery code works too), \
            {"op":"enroll-begin","user":U}, {"op":"enroll-confirm","user":U,"code":C}, \
            {"op":"disable","user":U}. An optional "id" is copied to the answer. Answers: \
            {"outcome":"ok|codeNeeded|enroll|denied|locked", ...} (with "recoveryCodes" to show once \
            after an enrollment, "recoveryCodesLeft" after a recovery code), {"otpauthURI":..., \
            "expiresAt":...}, {"done":true}, or {"error":SENTENCE,"code":NAME}. The connection to \
            twofactord stays open between requests, so after a login the self-service requests act for \
            that account; they are refused until a login of their user is answered ok, and after any other \
            answer to a login. When twofactord has closed the connection (after 5 minutes without a request, \
            or on a restart), the next request goes out on a new one, where a login is needed again.
            """
    )

    @OptionGroup var options: ConnectionOptions

    @Flag(name: .customLong("native-messaging"), help: "Use the browsers' native-messaging framing.")
    var nativeMessaging = false

    @Option(
        name: .customLong("daemon-user"),
        help: ArgumentHelp("The user twofactord runs as (trusted besides root and you).", valueName: "user")
    )
    var daemonUser: String = DaemonConnection.defaultDaemonUser

    @Argument(
        help: ArgumentHelp("Ignored: what browsers pass to a native host (the caller's origin).", visibility: .hidden)
    )
    var browserArguments: [String] = []

    /// A request as errors about the request's form show it.
    static let example = #"{"op":"login","user":"alice","password":"…","code":"123456"}"#

    /// Requests larger than this are refused unread: no field of the protocol comes close.
    static let maximumRequestLength = 16384

    /// The helper's connection to twofactord, and the account its last login made it act for.
    struct Link {
        var connection: DaemonConnection?
        var account: String?
        /// The account a connection acted for when twofactord closed it, until the next login: its refusals say why.
        var endedLogin: String?
    }

    func run() throws {
        guard geteuid() != 0 else {
            throw finish(
                .usage,
                "helper does not run as root: it acts for whoever writes its requests, whose wrong passwords would "
                    + "then lock accounts for sshd; run it as the user it serves, or as a user of its own"
            )
        }
        var link = Link()
        defer { link.connection?.close() }
        var framing = HelperFraming(native: nativeMessaging, limit: Self.maximumRequestLength)
        while true {
            let message: [UInt8]
            switch framing.next() {
            case .end: return
            case .tooLarge:
                framing.write(Self.failure("the request is larger than \(Self.maximumRequestLength) bytes", id: nil))
                if nativeMessaging { return }  // the rest of the frame cannot be skipped safely
                continue
            case .message(let bytes): message = bytes
            }
            var request = Array(message)
            let answer = handle(&request, link: &link)
            wipe(&request)
            framing.write(answer)
        }
    }

    private func handle(_ bytes: inout [UInt8], link: inout Link) -> JSONValue {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: bytes)
        } catch {
            return Self.failure("\(error.message): send one JSON object per request, as \(Self.example)", id: nil)
        }
        let id = json["id"]
        guard case .object = json, let op = json["op"]?.stringValue, let user = json["user"]?.stringValue else {
            return Self.failure("a request is an object with \"op\" and \"user\" strings, as \(Self.example)", id: id)
        }
        // A field of the wrong type is refused, not taken as missing: a code sent as a number would otherwise
        // be a login without a code, answered codeNeeded as if nothing were wrong.
        for field in ["password", "code"] where json[field].map({ $0 != .null && $0.stringValue == nil }) == true {
            return Self.failure("\"\(field)\" is a string: put its value in quotes, as \(Self.example)", id: id)
        }
        let code = json["code"]?.stringValue ?? ""
        let request: Request
        switch op {
        case "login":
            guard let password = json["password"]?.stringValue else {
                return Self.failure("login needs \"password\"", id: id)
            }
            request = .login(
                user: user,
                password: Array(password.utf8),
                codeKind: code.isEmpty ? .none : CodeKind(typed: code),
                code: code
            )
        case "enroll-begin": request = .enrollBegin(user: user, algorithm: .default, digits: 0, period: 0)
        case "enroll-confirm": request = .enrollConfirm(user: user, code: code)
        case "disable": request = .twoFactorDisable(user: user)
        default: return Self.failure("unknown op '\(op)': use login, enroll-begin, enroll-confirm or disable", id: id)
        }
        let isLogin = if case .login = request { true } else { false }
        // The daemon closes a connection idle for a while, and all of them when it stops: a request sent into a
        // closed connection would fail, so a new one is opened first, acting for nobody until a login.
        if let connection = link.connection, connection.endedByDaemon {
            connection.close()
            link = Link(endedLogin: link.account)
        }
        // Without a login of `user`, the daemon would take the request as the peer's own: an operator's, when
        // the helper runs as root.
        guard isLogin || link.account == user else {
            if link.endedLogin == user {
                return Self.failure(
                    "log in as '\(user)' again: twofactord closed the helper's connection (after 5 minutes without a "
                        + "request, or on a restart), and the login ended with it",
                    id: id,
                    code: "notPermitted"
                )
            }
            return Self.failure(
                "log in as '\(user)' first: the helper acts only for the account logged in on its connection",
                id: id,
                code: "notPermitted"
            )
        }
        do {
            if link.connection == nil {
                link.connection = try DaemonConnection(
                    socketPath: options.socketPath,
                    trusted: TrustedDaemon(daemonUser: daemonUser)
                )
            }
            let response = try link.connection!.send(request)
            if isLogin { (link.account, link.endedLogin) = (Self.logsIn(response) ? user : nil, nil) }
            return Self.json(for: response, id: id)
        } catch  where error.kind.wasNotSent {
            // Nothing was sent: the connection, and whom it acts for, stay as they were.
            return Self.failure(error.description, id: id)
        } catch {
            link = Link()  // closed by the failure; the next request reconnects, acting for nobody
            return Self.failure(error.description, id: id, code: "daemonUnavailable")
        }
    }

    /// Whether a login's answer makes the connection act for its account (docs/protocol.md).
    static func logsIn(_ response: Response) -> Bool {
        switch response {
        case .loginResult(.ok, _, _), .recoveryCodes, .recoveryLogin: true
        default: false
        }
    }

    static func json(for response: Response, id: JSONValue?) -> JSONValue {
        var members: [(String, JSONValue)] = id.map { [("id", $0)] } ?? []
        switch response {
        case .loginResult(let outcome, let retryAfter, let uri):
            let names: [LoginOutcome: String] = [
                .ok: "ok", .codeNeeded: "codeNeeded", .enroll: "enroll", .denied: "denied", .locked: "locked",
            ]
            members.append(("outcome", .string(names[outcome] ?? "denied")))
            if outcome == .locked { members.append(("retryAfter", .number(Int64(retryAfter)))) }
            if outcome == .enroll { members.append(("otpauthURI", .string(String(decoding: uri, as: UTF8.self)))) }
        case .enrollmentStarted(let uri, let expiresAt):
            members += [
                ("otpauthURI", .string(String(decoding: uri, as: UTF8.self))),
                ("expiresAt", .number(Int64(clamping: expiresAt))),
            ]
        case .recoveryCodes(let codes):
            // A login that finished an enrollment, or a new set: shown once, never stored here.
            members += [("outcome", .string("ok")), ("recoveryCodes", .array(codes.map(JSONValue.string)))]
        case .recoveryLogin(let remaining):
            members += [("outcome", .string("ok")), ("recoveryCodesLeft", .number(Int64(remaining)))]
        case .done:
            members.append(("done", .bool(true)))
        case .error(let code, let message):
            members += [("error", .string(message)), ("code", .string(code.description))]
        default:
            members += [
                ("error", .string("twofactord sent an unexpected answer")), ("code", .string("protocolViolation")),
            ]
        }
        return .object(members)
    }

    static func failure(_ message: String, id: JSONValue?, code: String = "badRequest") -> JSONValue {
        .object((id.map { [("id", $0)] } ?? []) + [("error", .string(message)), ("code", .string(code))])
    }
}

/// Reads requests and writes answers as JSON lines or native-messaging frames.
struct HelperFraming {
    enum Next { case message([UInt8]), tooLarge, end }

    let native: Bool
    let limit: Int

    mutating func next() -> Next {
        if native {
            guard let header = readExactly(4) else { return .end }
            // Native byte order, as Chrome and Firefox send it.
            let length = header.withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self)) }
            guard length <= limit else { return .tooLarge }
            guard let body = readExactly(length) else { return .end }
            return .message(body)
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(STDIN_FILENO, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { return line.isEmpty ? .end : .message(line) }
            if byte == UInt8(ascii: "\n") {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { line.removeAll(); continue }
                return .message(line)
            }
            if line.count == limit {
                // Skip to the end of the oversized line, so the next one is read whole.
                while read(STDIN_FILENO, &byte, 1) == 1, byte != UInt8(ascii: "\n") {}
                return .tooLarge
            }
            line.append(byte)
        }
    }

    func write(_ value: JSONValue) {
        var bytes = Array(value.text.utf8)
        if native {
            let header = withUnsafeBytes(of: UInt32(bytes.count)) { Array($0) }
            bytes = header + bytes
        } else {
            bytes.append(UInt8(ascii: "\n"))
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written > 0 { offset += written } else if written < 0, errno == EINTR { continue } else { return }
        }
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            // Into the array itself: through `bytes[offset...]` the slice gets a copy, left unwiped when freed.
            let got = bytes.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress! + offset, count - offset) }
            if got > 0 { offset += got } else if got < 0, errno == EINTR { continue } else { return nil }
        }
        return bytes
    }
}

extension ClientError.Kind {
    /// A request refused before anything was sent (a value past a protocol limit).
    fileprivate var wasNotSent: Bool {
        if case .invalidInput = self { true } else { false }
    }
}
