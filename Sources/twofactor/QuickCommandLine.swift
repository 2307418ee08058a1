import DaemonClient

/// The command lines of `twofactor login` and `twofactor pam` that ask for no help and hold no mistake, recognised
/// without ArgumentParser, whose reflection is most of the time such a process takes (docs/performance.md):
/// `twofactor [--socket PATH] COMMAND [--socket PATH] [OPTION...] [USER]`, with `--option=VALUE` too, each option at
/// most once, and every value and USER neither empty nor starting with '-'. Every other command line, help and each
/// mistake included, goes to ArgumentParser; `QuickLoginTests` and `QuickPAMTests` check that both read every
/// accepted command line alike.
struct QuickCommandLine {
    var socket: String?
    // Arrays, not sets: a handful of names, and no hashing (a random seed) on a path kept for its start-up cost.
    /// The command's flags that were given, without their "--".
    var flags: [String] = []
    /// The command's options that were given, without their "--", with their values.
    var values: [(name: String, value: String)] = []
    var words: [String] = []

    /// Reads `arguments` as `command` with the flags and options named (without "--") and `words` plain
    /// words after the command's name; nil for anything else.
    init?(
        _ arguments: some Sequence<String>,
        command: String,
        flags knownFlags: [String] = [],
        options knownOptions: [String] = [],
        words wordCount: Int = 0
    ) {
        var sawCommand = false
        var remaining = arguments.makeIterator()
        while let argument = remaining.next() {
            guard argument.hasPrefix("--") else {
                if !sawCommand {
                    guard argument == command else { return nil }
                    sawCommand = true
                } else {
                    guard words.count < wordCount, Self.isPlainWord(argument) else { return nil }
                    words.append(argument)
                }
                continue
            }
            let name = argument.dropFirst(2).prefix { $0 != "=" }
            let inlineValue =
                name.endIndex == argument.endIndex ? nil : String(argument[argument.index(after: name.endIndex)...])
            if name == "socket" {
                // The shared option stands before the command's name or after it.
                guard socket == nil, let value = inlineValue ?? remaining.next(), Self.isPlainWord(value) else {
                    return nil
                }
                socket = value
            } else if sawCommand, inlineValue == nil, let flag = knownFlags.first(where: { $0 == name }) {
                guard !flags.contains(flag) else { return nil }
                flags.append(flag)
            } else if sawCommand, let option = knownOptions.first(where: { $0 == name }) {
                guard value(of: option) == nil, let value = inlineValue ?? remaining.next(), Self.isPlainWord(value)
                else { return nil }
                values.append((option, value))
            } else {
                return nil
            }
        }
        guard sawCommand, words.count == wordCount else { return nil }
    }

    /// The value given to `option`, or nil.
    func value(of option: String) -> String? { values.first { $0.name == option }?.value }

    private static func isPlainWord(_ word: String) -> Bool { !word.isEmpty && !word.hasPrefix("-") }

    /// The value of `option` when it is a decimal number in `range`; `fallback` when the option was not given;
    /// nil otherwise (ArgumentParser says what is wrong with it).
    func number(_ option: String, in range: ClosedRange<Int>, fallback: Int) -> Int? {
        guard let text = value(of: option) else { return fallback }
        guard text.utf8.count <= 4, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let value = Int(text), range.contains(value)
        else { return nil }
        return value
    }
}

/// `twofactor [--socket PATH] login [--socket PATH] [--invert] USER`.
struct QuickLoginArguments: Equatable {
    var socket: String?
    var invert = false
    var user: String
}

extension QuickLoginArguments {
    init?(_ arguments: some Sequence<String>) {
        guard let line = QuickCommandLine(arguments, command: "login", flags: ["invert"], words: 1) else { return nil }
        self.init(socket: line.socket, invert: line.flags.contains("invert"), user: line.words[0])
    }
}

/// `twofactor [--socket PATH] pam [--socket PATH] [--single-prompt] [--digits N] [--timeout SECONDS]
/// [--daemon-user USER]`, as pam_exec runs it; a number outside the range `PAMExec.validate()` allows is left
/// to ArgumentParser.
struct QuickPAMArguments: Equatable {
    var socket: String?
    var singlePrompt = false
    var digits = PAMExec.defaultDigits
    var timeout = PAMExec.defaultTimeout
    var daemonUser = DaemonConnection.defaultDaemonUser
}

extension QuickPAMArguments {
    init?(_ arguments: some Sequence<String>) {
        guard
            let line = QuickCommandLine(
                arguments,
                command: "pam",
                flags: ["single-prompt"],
                options: ["digits", "timeout", "daemon-user"]
            ),
            let digits = line.number("digits", in: PAMExec.digitsRange, fallback: PAMExec.defaultDigits),
            let timeout = line.number("timeout", in: PAMExec.timeoutRange, fallback: PAMExec.defaultTimeout)
        else { return nil }
        self.init(
            socket: line.socket,
            singlePrompt: line.flags.contains("single-prompt"),
            digits: digits,
            timeout: timeout,
            daemonUser: line.value(of: "daemon-user") ?? DaemonConnection.defaultDaemonUser
        )
    }
}
