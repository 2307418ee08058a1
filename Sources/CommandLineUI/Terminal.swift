import Glibc
import Wire

/// Line input for the command-line tools: secrets with echo off, plain lines from standard input.
/// Reads go byte by byte through read(2), never through stdio, so a secret read from standard
/// input and a later `readLine` never steal each other's buffered bytes.
public enum Terminal {
    /// True when standard input is a terminal (isatty).
    public static var standardInputIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// Writes `prompt` to /dev/tty and reads one line from it with echo turned off, restoring
    /// the terminal's mode before returning. Without a controlling terminal it prompts on
    /// standard error and reads standard input (so `printf 'pw\n' | twofactor login` works).
    /// Returns nil at end of input. The caller should overwrite the bytes when done with them.
    public static func readSecret(prompt: String) -> [UInt8]? {
        let terminal = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)
        if terminal >= 0 {
            defer { close(terminal) }
            return readSecret(prompt: prompt, input: terminal, output: terminal)
        }
        return readSecret(prompt: prompt, input: STDIN_FILENO, output: STDERR_FILENO)
    }

    /// Reads one line from standard input without its "\n" or "\r\n"; nil at end of input.
    public static func readLine() -> [UInt8]? { readLine(from: STDIN_FILENO) }

    /// Writes `text` to standard error, unbuffered, so it shows before the program waits for input.
    public static func writeError(_ text: String) { writeAll(Array(text.utf8), to: STDERR_FILENO) }

    /// Writes `bytes` to standard error with write(2), unbuffered: for a secret (an enrollment screen), which the
    /// caller wipes afterwards and no stdio buffer keeps.
    public static func writeError(_ bytes: [UInt8]) { writeAll(bytes, to: STDERR_FILENO) }

    /// Writes `bytes` to standard output with write(2), after what stdio holds for it, so that the order stays: for
    /// a secret, which the caller wipes afterwards and stdout's buffer (`print`) would keep.
    public static func writeOutput(_ bytes: [UInt8]) {
        fflush(nil)
        writeAll(bytes, to: STDOUT_FILENO)
    }

    /// `readSecret` on given descriptors. Echo is turned off only when `input` is a terminal.
    /// The corresponding C functions are `tcgetattr` and `tcsetattr`.
    ///
    /// As readpassphrase(3) does, a signal that ends or stops the program while echo is off (Ctrl-C, Ctrl-\\,
    /// Ctrl-Z, a hangup, SIGTERM) first gets the terminal's mode back, then takes its usual effect: the shell is
    /// never left without echo. Back from a stop, the prompt is shown again.
    static func readSecret(prompt: String, input: Int32, output: Int32) -> [UInt8]? {
        var original = termios()
        guard tcgetattr(input, &original) == 0 else {
            writeAll(Array(prompt.utf8), to: output)
            return readLine(from: input)
        }
        var silent = original
        // ECHONL still echoes the newline, so the cursor moves on after the hidden input.
        silent.c_lflag &= ~tcflag_t(ECHO)
        silent.c_lflag |= tcflag_t(ECHONL)
        while true {
            let signals = PromptSignals()
            tcsetattr(input, TCSAFLUSH, &silent)
            // The prompt comes after TCSAFLUSH (as in getpass(3)): what is typed once it shows is kept.
            writeAll(Array(prompt.utf8), to: output)
            var line = readLine(from: input, until: { PromptSignals.caught != nil })
            tcsetattr(input, TCSANOW, &original)
            guard let caught = signals.restore() else { return line }
            if line != nil { wipe(&line!) }
            raise(caught)
            // Still running: continued after a stop, or a handler of the program's own returned.
            guard caught == SIGTSTP || caught == SIGTTIN || caught == SIGTTOU else { return nil }
        }
    }

    /// Reads up to and excluding "\n", dropping a "\r" before it; nil when nothing came before
    /// end of input. With `interrupted`, it stops (keeping what came so far) once that says so.
    static func readLine(from descriptor: Int32, until interrupted: (() -> Bool)? = nil) -> [UInt8]? {
        var line: [UInt8] = []
        // Room for any sane password up front, so growing the array leaves no stray copies.
        line.reserveCapacity(1024)
        var byte: UInt8 = 0
        var ended = false
        while true {
            if let interrupted, !waitUntilReadable(descriptor, unless: interrupted) { break }
            let count = read(descriptor, &byte, 1)
            if count == 1 {
                if byte == UInt8(ascii: "\n") {
                    ended = true
                    break
                }
                line.append(byte)
            } else if count < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        if line.isEmpty && !ended { return nil }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return line
    }

    /// Waits until `descriptor` has input, or its end or an error; false once `interrupted` says so. A signal
    /// that comes between the check and the wait would not end a wait without a timeout, so the wait is cut into
    /// short ones. The corresponding C function is `poll`.
    private static func waitUntilReadable(_ descriptor: Int32, unless interrupted: () -> Bool) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while !interrupted() {
            if poll(&entry, 1, 200) > 0 { return true }
        }
        return false
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0, errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
