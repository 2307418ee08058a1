import ArgumentParser
import CommandLineOptions
import CommandLineUI
import DaemonClient
import Glibc
import UserDatabase
import Wire

// MUSTs of `twofactor shell`:
// - the account is the caller's own (its real uid), never a name from the arguments or environment;
// - the shell or command runs only after the daemon answered `ok`; Ctrl-C, end of input, an empty
//   or wrong code, or a daemon that cannot be asked end the session;
// - the socket comes from the command line only; no environment variable can point it elsewhere;
// - installed set-group-ID (to the daemon's code-check group), it keeps that group only until it has
//   connected, and trusts no daemon run by the caller: nothing the caller starts through it, and no
//   daemon the caller runs, ever gets the group.

struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Ask for the verification code, then start the shell (sshd ForceCommand or login shell).",
        discussion: """
            Use it after a first factor that something else checked (sshd's public key or password): \
            it asks the caller's own account for its code on the terminal (showing the QR code to an \
            account that must enroll), then runs SSH_ORIGINAL_COMMAND, the command given with -c, or \
            the login shell. Checking a code without the password needs a privileged peer (root, the \
            operator group or twofactord's --code-check-group, e.g. with this binary installed setgid \
            to that group); otherwise it also asks for the account's password.
            """
    )

    @OptionGroup var options: ConnectionOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The shell to start (default: the account's, unless that is this wrapper).",
            valueName: "path"
        )
    )
    var shell: String?

    @Option(
        name: .customShort("c"),
        help: ArgumentHelp("Run this command with the shell instead of an interactive shell.", valueName: "command")
    )
    var command: String?

    @Option(
        name: .customLong("daemon-user"),
        help: ArgumentHelp("The user twofactord runs as (trusted besides root).", valueName: "user")
    )
    var daemonUser: String = DaemonConnection.defaultDaemonUser

    func run() throws {
        guard let account = Account.current() else { throw finish(.usage, "the calling user has no passwd entry") }
        let connection: DaemonConnection
        do {
            connection = try DaemonConnection(
                socketPath: options.socketPathIgnoringEnvironment,
                timeoutSeconds: 30,
                trusted: TrustedDaemon(daemonUser: daemonUser, trustingCaller: false)
            )
        } catch {
            throw finish(.daemonUnavailable, "\(error)")
        }
        // The daemon took this process's credentials when it connected (SO_PEERCRED), so a set-group-ID install
        // has had all the use of its group it needs: the rest, the shell above all, runs as the caller alone.
        guard Self.dropSetIDPrivileges() else {
            throw finish(.daemonUnavailable, "cannot give up set-ID privileges: \(String(cString: strerror(errno)))")
        }
        let origin = LoginOrigin(service: "twofactor-shell", remoteHost: Self.remoteHost())
        var password: [UInt8]?
        defer { if password != nil { wipe(&password!) } }

        var code = ""
        var answer: Response
        for _ in 0..<4 {
            let request: Request =
                if let password {
                    .loginFrom(
                        user: account.name,
                        password: password,
                        codeKind: code.isEmpty ? .none : CodeKind(typed: code),
                        code: code,
                        origin: origin
                    )
                } else {
                    .codeCheck(
                        user: account.name,
                        codeKind: code.isEmpty ? .none : CodeKind(typed: code),
                        code: code,
                        origin: origin
                    )
                }
            do {
                answer = try connection.send(request)
            } catch {
                throw finish(.daemonUnavailable, "\(error)")
            }
            let sentCode = !code.isEmpty
            code = ""
            switch answer {
            case .loginResult(.ok, _, _), .recoveryCodes, .recoveryLogin:
                // The words of `twofactor login`, whichever way in the user took.
                if case .recoveryCodes(let codes) = answer {
                    Terminal.writeError(LoginTexts.enrolled(user: account.name, recoveryCodes: codes))
                }
                if case .recoveryLogin(let left) = answer {
                    Terminal.writeError(LoginTexts.recoveryLogin(user: account.name, remaining: left))
                }
                connection.close()
                try execShell(account)
            case .error(.notPermitted, _) where password == nil:
                // Not privileged to check a code alone: prove the account with its password too.
                guard let typed = Terminal.readSecret(prompt: "Password: ") else {
                    throw finish(.denied, "no password given")
                }
                password = typed
                continue
            case .loginResult(.codeNeeded, _, _) where !sentCode:
                break
            case .enrollScreen(var uri, var drawing):
                // The daemon's drawing scans to the secret; this client draws its own screen from the URI.
                wipe(&drawing)
                showEnrollment(&uri, user: account.name)
            case .loginResult(.enroll, _, var uri):
                showEnrollment(&uri, user: account.name)
            case .loginResult(.locked, let retryAfter, _):
                throw finish(.locked, LoginTexts.locked(user: account.name, retryAfter: retryAfter))
            case .error(_, let message):
                throw finish(.daemonUnavailable, message)
            default:
                throw finish(.denied, "login denied")
            }
            let line = String(decoding: Terminal.readSecret(prompt: "Verification code: ") ?? [], as: UTF8.self)
            code = line.filter { $0 != " " }
            guard !code.isEmpty else { throw finish(.denied, "no code given: login denied") }
        }
        throw finish(.denied, "login denied")
    }

    /// Replaces this process with the shell; returns only by throwing.
    private func execShell(_ account: Account) throws -> Never {
        let path = shell ?? account.shell
        let name = String(path.split(separator: "/").last ?? "sh")
        var arguments: [String]
        if let command = command ?? getenv("SSH_ORIGINAL_COMMAND").map({ String(cString: $0) }) {
            arguments = [name, "-c", command]
        } else {
            arguments = ["-" + name]  // a login shell, as login(1) and sshd start it
        }
        var pointers = arguments.map { strdup($0) } + [nil]
        execv(path, &pointers)
        throw finish(.daemonUnavailable, "cannot start \(path): \(String(cString: strerror(errno)))")
    }

    /// Sets the real, effective and saved group and user IDs to the real ones, for good; whether it worked.
    static func dropSetIDPrivileges() -> Bool {
        let gid = getgid()
        let uid = getuid()
        // Setting the real ID as well makes the kernel set the saved ID too (setregid(2)), so nothing can take it back.
        guard setregid(gid, gid) == 0, setreuid(uid, uid) == 0 else { return false }
        return getegid() == gid && geteuid() == uid
    }

    /// The client address sshd reports; only logged by the daemon, and only when an operator (root) runs this.
    static func remoteHost() -> String {
        guard let connection = getenv("SSH_CONNECTION") else { return "" }
        let host = String(cString: connection).split(separator: " ").first.map(String.init) ?? ""
        return host.utf8.count <= 255 ? host : ""
    }
}

/// The caller's passwd entry, looked up by real uid.
struct Account {
    var name: String
    var shell: String

    static func current() -> Account? {
        guard let user = UserDatabase.user(withUID: getuid()) else { return nil }
        var shell = user.shell
        // Installed as the login shell itself, the account's shell would start this wrapper again.
        if shell.isEmpty || shell.contains("twofactor") { shell = "/bin/sh" }
        return Account(name: user.name, shell: shell)
    }
}
