import ArgumentParser
import Testing

@testable import twofactor

/// `QuickLoginArguments` stands in for ArgumentParser on the plain `twofactor login` command lines, so
/// whatever it accepts, ArgumentParser must read as the same login.
@Suite struct QuickLoginTests {
    /// What ArgumentParser makes of `arguments`: the login's socket, flag and user, or nil when the command
    /// line is not a login that parses.
    private func parsedByArgumentParser(_ arguments: [String]) -> QuickLoginArguments? {
        guard let login = (try? Twofactor.parseAsRoot(arguments)) as? Login else { return nil }
        return QuickLoginArguments(socket: login.options.socket, invert: login.invert, user: login.user)
    }

    @Test(arguments: [
        ["login", "lena"],
        ["login", "--socket", "/run/s", "lena"],
        ["--socket", "/run/s", "login", "lena"],
        ["login", "lena", "--socket", "/run/s"],
        ["login", "--socket=/run/s", "lena"],
        ["--socket=/run/s", "login", "--invert", "lena"],
        ["login", "lena", "--invert"],
        ["login", "--invert", "--socket", "relative/socket", "lena.smith@example.com"],
    ])
    func plainCommandLines_areReadAsArgumentParserReadsThem(_ arguments: [String]) throws {
        let quick = try #require(QuickLoginArguments(arguments))
        #expect(parsedByArgumentParser(arguments) == quick)
    }

    @Test(arguments: [
        [], ["login"], ["--help"], ["login", "--help"], ["login", "-h"], ["help", "login"], ["login", "lena", "bob"],
        ["login", "--", "lena"], ["login", "--socket", "lena"], ["login", "--socket=", "lena"],
        ["login", "--socket", "-s", "lena"], ["login", "-lena"], ["--invert", "login", "lena"],
        ["login", "--invert", "--invert", "lena"], ["--socket", "a", "login", "--socket", "b", "lena"],
        ["login", "--verbose", "lena"], ["login", "--sock", "a", "lena"], ["pam"], ["shell", "lena"],
        ["lena", "login"], ["login", "", "x"], ["login", "--socket=a=b", "lena", "extra"],
    ])
    func everyOtherCommandLine_isLeftToArgumentParser(_ arguments: [String]) {
        #expect(QuickLoginArguments(arguments) == nil)
    }

    /// Command lines drawn from words that stand near the edge of the plain ones, with a fixed seed so a
    /// failure repeats: every one the quick reading accepts, ArgumentParser reads alike.
    @Test func drawnCommandLines_acceptedQuickly_areReadAlikeByArgumentParser() {
        // Plain words more often than the odd ones, so that many draws are logins.
        let words = [
            "login", "login", "login", "--socket", "--socket", "--socket=/s", "/s", "/s", "lena", "lena", "--invert",
            "help", "--socket=", "--socket=-x", "-h", "--help", "--", "-", "-x", "", "=", "login=x",
        ]
        var accepted = 0
        for arguments in drawnCommandLines(from: words, seed: 0x2FA_0001, maximumLength: 6) {
            guard let quick = QuickLoginArguments(arguments) else { continue }
            accepted += 1
            #expect(parsedByArgumentParser(arguments) == quick, "\(arguments)")
        }
        // The draw must reach the quick path often enough to mean something.
        #expect(accepted > 200)
    }
}
