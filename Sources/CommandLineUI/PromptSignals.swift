import Glibc
import Synchronization

/// The last signal caught while a hidden prompt waits; set by `promptSignalHandler`, which may do nothing else
/// (a handler may only touch lock-free state).
private let caughtPromptSignal = Atomic<Int32>(0)

private let promptSignalHandler: @convention(c) (Int32) -> Void = { signal in
    caughtPromptSignal.store(signal, ordering: .relaxed)
}

/// The signals that end or stop a program while it prompts with echo off, caught for as long as the prompt
/// waits, so that the terminal's mode is restored before they take effect (readpassphrase(3) catches the same).
/// The handlers are installed without SA_RESTART: the prompt's read(2) returns EINTR at the signal. A signal the
/// program ignores stays ignored.
struct PromptSignals: ~Copyable {
    private static let numbers = [SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU]
    private var earlier: [(number: Int32, action: sigaction)] = []

    /// Installs the handlers. The corresponding C function is `sigaction`.
    init() {
        caughtPromptSignal.store(0, ordering: .relaxed)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = promptSignalHandler
        sigemptyset(&action.sa_mask)
        for number in Self.numbers {
            var before = sigaction()
            guard sigaction(number, nil, &before) == 0, !Self.isIgnored(before) else { continue }
            if sigaction(number, &action, nil) == 0 { earlier.append((number, before)) }
        }
    }

    private static func isIgnored(_ action: sigaction) -> Bool {
        guard let handler = action.__sigaction_handler.sa_handler else { return false }
        return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    /// The signal caught since the last `init`, if any.
    static var caught: Int32? {
        let number = caughtPromptSignal.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    /// Puts the program's own handlers back and says which signal, if any, was caught meanwhile; the caller
    /// raises it again once the terminal is restored.
    consuming func restore() -> Int32? {
        for (number, action) in earlier {
            var action = action
            sigaction(number, &action, nil)
        }
        return Self.caught
    }
}
