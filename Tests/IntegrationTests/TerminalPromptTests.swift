import Foundation
import Testing

/// The clients' hidden prompts on a real terminal (a pseudo-terminal the program has as its controlling
/// terminal, so the keys below reach it as the line discipline's signals): whatever ends or stops the program
/// while echo is off, the terminal gets its echo back.
struct TerminalPromptTests {
    /// What `python3` saw: how the program ended, the terminal's echo at each prompt and afterwards, the text shown.
    struct Session: Decodable {
        var signal: Int32
        var echoWhilePrompting: [Bool]
        var echoAfter: Bool
        var shown: String
    }

    /// Runs `arguments` on a new pseudo-terminal, waits for `prompt`, then types `keys` one by one; after
    /// Ctrl-Z it waits for the prompt to show again. Python's pty module does the terminal set-up
    /// (setsid, TIOCSCTTY) that Foundation's Process cannot.
    static func session(_ executable: URL, _ arguments: [String], prompt: String, keys: [UInt8]) throws -> Session {
        let driver = """
            import json, os, pty, select, signal, sys, termios, time
            prompt, keys, argv = sys.argv[1].encode(), bytes.fromhex(sys.argv[2]), sys.argv[3:]
            pid, fd = pty.fork()
            if pid == 0:
                # As from a shell: the test runner's threads block the signals this test sends.
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                os.execv(argv[0], argv)
            shown, echo = b"", []
            def wait_for_prompt():
                global shown
                deadline = time.monotonic() + 60
                while shown.count(prompt) <= len(echo) and time.monotonic() < deadline:
                    if select.select([fd], [], [], 1)[0]:
                        try: shown += os.read(fd, 1024)
                        except OSError: break
                # The prompt is written once echo is off: this is the mode the program reads in.
                echo.append(bool(termios.tcgetattr(fd)[3] & termios.ECHO))
            wait_for_prompt()
            for key in keys:
                os.write(fd, bytes([key]))
                if key == 0x1a: wait_for_prompt()
            deadline, (ended, status) = time.monotonic() + 30, os.waitpid(pid, os.WNOHANG)
            while ended == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
                ended, status = os.waitpid(pid, os.WNOHANG)
            if ended == 0:
                echo_left = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
                os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
            print(json.dumps({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
                "echoWhilePrompting": echo, "echoAfter": echo_left if ended == 0 else bool(termios.tcgetattr(fd)[3] & termios.ECHO),
                "shown": shown.decode(errors="replace")}))
            """
        let hexKeys = keys.map { String(format: "%02x", $0) }.joined()
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/python3"),
            ["-c", driver, prompt, hexKeys, executable.path] + arguments
        )
        try #require(result.status == 0, "\(result.standardError)")
        return try JSONDecoder().decode(Session.self, from: Data(result.standardOutput.utf8))
    }

    static let controlC: UInt8 = 0x03
    static let controlZ: UInt8 = 0x1a

    /// Ctrl-C alone, and Ctrl-Z first: that stops nothing here (the program leads its own session, an orphaned
    /// process group, where the kernel drops a stop), so the prompt shows again with echo off, as readpassphrase(3)
    /// does back from a stop.
    @Test(arguments: [[controlC], [controlZ, controlC]])
    func login_controlCAtThePasswordPrompt_endsTheProgram_andLeavesEchoOn(keys: [UInt8]) throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let session = try Self.session(
            Binaries.url("twofactor"),
            ["login", "--socket", daemon.socketPath, "alice"],
            prompt: "Password: ",
            keys: keys
        )
        #expect(session.echoWhilePrompting == keys.map { _ in false }, "\(session.shown)")
        #expect(session.signal == SIGINT, "\(session.shown)")
        #expect(session.echoAfter, "the terminal was left without echo")
    }

    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func ctl_controlCAtTheNewPasswordPrompt_endsTheProgram_andLeavesEchoOn() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let session = try Self.session(
            Binaries.url("twofactorctl"),
            ["user", "add", "bob", "--socket", daemon.socketPath],
            prompt: "New password: ",
            keys: [Self.controlC]
        )
        #expect(session.echoWhilePrompting == [false], "\(session.shown)")
        #expect(session.signal == SIGINT, "\(session.shown)")
        #expect(session.echoAfter, "the terminal was left without echo")
        let listed = try run(Binaries.url("twofactorctl"), ["user", "list", "--socket", daemon.socketPath])
        #expect(!listed.standardOutput.contains("bob"), "nothing is added by a program ended at its prompt")
    }
}
