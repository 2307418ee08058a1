import ArgumentParser
import CommandLineOptions
import CommandLineUI
import DaemonClient
import Glibc
import Wire

/// Options every command takes, before or after its name. The root command declares them with
/// `@OptionGroup` too: it parses them wherever they stand, and each subcommand's `@OptionGroup`
/// receives the root's values. A new subcommand gets them with one line:
/// `@OptionGroup var options: CommonOptions`.
struct CommonOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions

    @Flag(name: .long, help: "Print results as JSON on standard output.")
    var json = false

    var socket: String { connection.socketPath }

    /// Sends one request; a refusal or an unreachable daemon is reported and ends the program.
    func send(_ request: Request) throws -> Response {
        let connection: DaemonConnection
        do {
            connection = try DaemonConnection(socketPath: socket)
        } catch {
            throw fail("\(error)", code: "daemonUnreachable", exitCode: 3)
        }
        defer { connection.close() }
        let response: Response
        do {
            response = try connection.send(request)
        } catch {
            throw fail("\(error)", code: "daemonUnreachable", exitCode: 3)
        }
        if case .error(let code, let message) = response {
            throw fail(message, code: "\(code)", exitCode: 1)
        }
        return response
    }

    /// Sends a request whose only good answer is `done`.
    func expectDone(_ request: Request, success message: String) throws {
        let response = try send(request)
        guard case .done = response else { throw unexpected(response) }
        if json {
            print(JSONValue.object([("ok", .bool(true))]).text)
        } else {
            print(message)
        }
    }

    func unexpected(_ response: Response) -> ExitCode {
        fail(
            "the daemon sent an unexpected answer (\(response)): are client and daemon the same version?",
            code: "protocolViolation",
            exitCode: 3
        )
    }

    /// Reports a failure in the chosen output format and returns the exit code to throw.
    func fail(_ message: String, code: String, exitCode: Int32) -> ExitCode {
        if json {
            print(
                JSONValue.object([("error", .object([("code", .string(code)), ("message", .string(message))]))]).text
            )
        } else {
            printError(message)
        }
        return ExitCode(exitCode)
    }
}

func printError(_ message: String) {
    Terminal.writeError("twofactorctl: \(message)\n")
}

/// Reads a new password: one line from standard input with `--password-stdin`, otherwise typed
/// twice on the terminal without echo.
func readNewPassword(fromStandardInput: Bool) throws -> [UInt8] {
    if fromStandardInput {
        guard let password = Terminal.readLine(), !password.isEmpty else {
            printError("no password on standard input")
            throw ExitCode(64)
        }
        return password
    }
    guard let first = Terminal.readSecret(prompt: "New password: "), !first.isEmpty else {
        printError("no password given")
        throw ExitCode(64)
    }
    guard let second = Terminal.readSecret(prompt: "Repeat the password: "), second == first else {
        printError("the passwords differ: nothing was changed")
        throw ExitCode(1)
    }
    return first
}
