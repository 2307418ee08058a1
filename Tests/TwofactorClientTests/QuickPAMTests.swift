import ArgumentParser
import Testing

@testable import twofactor

/// `QuickPAMArguments` stands in for ArgumentParser on the plain `twofactor pam` command lines that pam_exec runs,
/// so whatever it accepts, ArgumentParser must read as the same check.
@Suite struct QuickPAMTests {
    /// What ArgumentParser makes of `arguments`: the check's socket and options, or nil when the command line is
    /// not a `pam` that parses.
    private func parsedByArgumentParser(_ arguments: [String]) -> QuickPAMArguments? {
        guard let pam = (try? Twofactor.parseAsRoot(arguments)) as? PAMExec, (try? pam.validate()) != nil else {
            return nil
        }
        return QuickPAMArguments(
            socket: pam.options.socket,
            singlePrompt: pam.singlePrompt,
            digits: pam.digits,
            timeout: pam.timeout,
            daemonUser: pam.daemonUser
        )
    }

    @Test(arguments: [
        ["pam"],
        ["pam", "--single-prompt"],
        ["pam", "--socket", "/run/twofactord/socket", "--single-prompt"],
        ["--socket", "/run/s", "pam", "--single-prompt"],
        ["pam", "--single-prompt", "--socket=/run/s"],
        ["pam", "--single-prompt", "--digits", "8", "--timeout", "30", "--daemon-user", "tfd"],
        ["pam", "--digits=7", "--timeout=600", "--daemon-user=_twofactord", "--socket=/run/s"],
        ["pam", "--timeout", "1", "--single-prompt", "--digits", "06"],
        ["--socket=relative/socket", "pam", "--daemon-user", "pam"],
    ])
    func plainCommandLines_areReadAsArgumentParserReadsThem(_ arguments: [String]) throws {
        let quick = try #require(QuickPAMArguments(arguments))
        #expect(parsedByArgumentParser(arguments) == quick)
    }

    @Test func defaults_areArgumentParsers() throws {
        #expect(QuickPAMArguments(["pam"]) == QuickPAMArguments(socket: nil))
        #expect(parsedByArgumentParser(["pam"]) == QuickPAMArguments(socket: nil))
    }

    @Test(arguments: [
        [], ["pam", "--help"], ["pam", "-h"], ["help", "pam"], ["--help"], ["pam", "alice"], ["alice", "pam"],
        ["pam", "--digits", "9"], ["pam", "--digits", "5"], ["pam", "--digits", "+7"], ["pam", "--digits", "-7"],
        ["pam", "--digits"], ["pam", "--digits", "99999"], ["pam", "--digits", " 7"], ["pam", "--timeout", "0"],
        ["pam", "--timeout", "601"], ["pam", "--timeout", "ten"], ["pam", "--timeout="],
        ["pam", "--single-prompt", "--single-prompt"], ["pam", "--digits", "6", "--digits", "7"],
        ["--single-prompt", "pam"], ["--digits", "7", "pam"], ["pam", "--single-prompt=yes"],
        ["pam", "--daemon-user", ""], ["pam", "--daemon-user", "-x"], ["pam", "--daemon-user="],
        ["pam", "--invert"], ["login", "--single-prompt", "lena"], ["pam", "--", "--single-prompt"],
        ["pam", "--socket", "a", "--socket", "b"], ["pam", "--single"], ["pam", "--socket"], ["pam", "pam"],
        ["pam", "--version"], ["pam", "-single-prompt"],
    ])
    func everyOtherCommandLine_isLeftToArgumentParser(_ arguments: [String]) {
        #expect(QuickPAMArguments(arguments) == nil)
    }

    /// Command lines drawn from words that stand near the edge of the plain ones, with a fixed seed so a
    /// failure repeats: every one the quick reading accepts, ArgumentParser reads alike.
    @Test func drawnCommandLines_acceptedQuickly_areReadAlikeByArgumentParser() {
        // Plain words more often than the odd ones, so that many draws are checks.
        let words = [
            "pam", "pam", "pam", "pam", "--single-prompt", "--single-prompt", "--socket", "--socket", "/s", "/s",
            "--socket=/s", "--digits", "--digits", "7", "7", "--digits=8", "--timeout", "--timeout", "30", "30",
            "--timeout=5", "--daemon-user", "--daemon-user=u", "u", "6", "9", "600", "601", "0", "06", "+7", "help",
            "-h", "--help", "--", "-", "-1", "", "=", "pam=x", "login", "--single-prompt=", "--digits=",
        ]
        var accepted = 0
        for arguments in drawnCommandLines(from: words, seed: 0x2FA_0002, count: 40_000, maximumLength: 7) {
            guard let quick = QuickPAMArguments(arguments) else { continue }
            accepted += 1
            #expect(parsedByArgumentParser(arguments) == quick, "\(arguments)")
        }
        // The draw must reach the quick path often enough to mean something.
        #expect(accepted > 500)
    }
}
