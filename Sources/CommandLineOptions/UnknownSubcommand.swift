import ArgumentParser
import Glibc

/// Finds a mistyped subcommand before ArgumentParser does. Because the shared options are parsed
/// wherever they stand, ArgumentParser would report `user lst --socket S` as an unexpected 'lst'
/// (or, without shared options at the root, as an unknown '--socket'); a person needs to hear that
/// 'lst' is not a command of `user`.
public enum UnknownSubcommand {
    /// The message for the first word of `arguments` that stands where a subcommand of `root`
    /// must be but names none, with the command it should have named a subcommand of ("twofactorctl
    /// user"), or nil when every such word names a subcommand. Between commands only the options of
    /// `shared` may appear, so they tell which options take a value.
    public static func message(
        for arguments: [String],
        root: any ParsableCommand.Type,
        shared: any ParsableArguments.Type
    ) -> (text: String, command: String)? {
        var command = root
        var path = [root._commandName]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            if argument == "--" { return nil }
            if argument.hasPrefix("-") {
                if !argument.contains("="), takesValue(argument, in: shared) { index += 1 }
                continue
            }
            let subcommands = command.configuration.subcommands
            if subcommands.isEmpty || command.configuration.defaultSubcommand != nil { return nil }
            if let next = subcommands.first(where: {
                $0._commandName == argument || $0.configuration.aliases.contains(argument)
            }) {
                command = next
                path.append(argument)
                continue
            }
            // ArgumentParser's own `help` subcommand.
            if argument == "help" { return nil }
            let names = subcommands.map { $0._commandName }
            let choices = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names[0]
            let command = path.joined(separator: " ")
            return ("Unknown subcommand '\(argument)' of '\(command)': choose \(choices).", command)
        }
        return nil
    }

    /// True when `option` needs a value: it parses alone as a missing value, and with one it parses.
    static func takesValue(_ option: String, in shared: any ParsableArguments.Type) -> Bool {
        (try? shared.parse([option])) == nil && (try? shared.parse([option, "value"])) != nil
    }
}

extension ParsableCommand {
    /// Runs the command line like ArgumentParser's `main()`, but first reports a mistyped
    /// subcommand as such (exit status 64, like every usage error). With `reportError`, an error
    /// that ArgumentParser would print (a usage error, or one that `run()` throws other than an
    /// `ExitCode`, which says it was reported) is given to it instead, as one line that names the
    /// help to read, with the exit status; help itself is still ArgumentParser's.
    public static func main(
        sharedOptions: any ParsableArguments.Type,
        reportError: ((_ message: String, _ status: ExitCode) -> Void)? = nil
    ) {
        let arguments = Array(CommandLine.arguments.dropFirst())
        func fail(_ error: any Error, help command: String? = nil) -> Never {
            let status = exitCode(for: error)
            if let reportError, !(error is ExitCode), status != .success {
                // ArgumentParser's own text ends with the usage and "See 'COMMAND --help' ...": keep the pointer,
                // or point at the help of the command a mistyped subcommand belongs to.
                let help =
                    command.map { "\($0) --help" }
                    ?? fullMessage(for: error).firstMatch(of: #/See '([^'\n]+ --help)'/#).map { String($0.output.1) }
                var text = message(for: error)
                if help != nil, text.hasSuffix(".") { text.removeLast() }
                reportError(text + (help.map { ": see '\($0)'" } ?? ""), status)
                exit(withError: status)
            }
            if let command, status != .success {
                // ArgumentParser's text shows the root's usage and points at the root's help, neither of which
                // lists the subcommands of the command the mistyped word belongs to: point at that command's help.
                let text = "Error: \(message(for: error))\n  See '\(command) --help' for more information.\n"
                _ = Array(text.utf8).withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
                exit(withError: status)
            }
            exit(withError: error)
        }
        // ArgumentParser's `main(_:)`, with the typo check only where the parse failed: a command line
        // that parses names no unknown subcommand, and skipping the check (a trial parse of each option)
        // saves about 8% of the instructions of a whole `twofactor login` process (docs/performance.md).
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            if let unknown = UnknownSubcommand.message(for: arguments, root: Self.self, shared: sharedOptions) {
                fail(ValidationError(unknown.text), help: unknown.command)
            }
            fail(error)
        }
        do {
            try command.run()
        } catch {
            fail(error)
        }
    }
}
