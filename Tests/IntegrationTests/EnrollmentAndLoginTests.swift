import Foundation
import Testing
import TestSupport

/// The README walkthrough, through the real binaries: add a user, enroll by QR code, log in.
@Suite struct EnrollmentAndLoginTests {
    @Test func walkthrough_enrollWithQRCode_thenLogInWithNextCode() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let added = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "correct horse\n")
        #expect(added.status == 0, "\(added.standardError)")

        var confirmedStep: Int64 = 0
        let enrolled = try runInteractive(
            Binaries.url("twofactorctl"),
            ["2fa", "enroll", "--socket", daemon.socketPath, "alice"],
            firstInput: "",
            markerOnStandardError: false,
            marker: "URI: "
        ) { shown in
            let uri = try #require(line(after: "URI: ", in: shown))
            let secret = try #require(secretParameter(ofURI: uri))
            let typedSecret = try #require(line(after: "enter this secret by hand (time-based):", in: shown))
            #expect(typedSecret.replacingOccurrences(of: " ", with: "") == secret)
            #expect(shown.contains("\u{2580}") || shown.contains("\u{2584}") || shown.contains("\u{2588}"))
            let now = unixNow()
            confirmedStep = now / 30
            return try OathTool.code(secret: secret, at: now) + "\n"
        }
        #expect(enrolled.status == 0, "\(enrolled.standardError)")

        let shown = try daemon.ctl(["user", "show", "alice", "--json"])
        #expect(shown.standardOutput.contains("\"twoFactor\":\"on\""), "\(shown.standardOutput)")

        let uri = try #require(line(after: "URI: ", in: enrolled.standardOutput))
        let secret = try #require(secretParameter(ofURI: uri))
        let nextCode = try OathTool.code(secret: secret, at: (confirmedStep + 1) * 30)
        let login = try daemon.login("alice", password: "correct horse", code: nextCode)
        #expect(login.status == 0, "\(login.standardError)")
    }

    /// docs/product.md: the QR code "can be written as SVG or PNG". `--qr-image` writes it, by the file's extension, to
    /// a new file only its owner may read (it holds the secret); zbarimg scans it back to the URI. An existing file
    /// (or a link planted where it should go) is refused, not followed or overwritten.
    @Test(arguments: ["png", "svg"])
    func enroll_qrImage_isWrittenAsPNGOrSVG_thatScansToTheURI(format: String) throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "correct horse\n")
        let image = daemon.directory.appendingPathComponent("qr.\(format)").path
        let begun = try daemon.ctl(["2fa", "enroll", "alice", "--begin", "--qr-image", image])
        #expect(begun.status == 0, "\(begun.standardError)")
        let uri = begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        var status = stat()
        #expect(stat(image, &status) == 0 && status.st_mode & 0o777 == 0o600)
        var scanned = image
        if format == "svg" {
            scanned = daemon.directory.appendingPathComponent("qr-svg.png").path
            let converted = try run(URL(fileURLWithPath: "/usr/bin/rsvg-convert"), ["-o", scanned, image])
            #expect(converted.status == 0, "\(converted.standardError)")
        }
        let decoded = try run(URL(fileURLWithPath: "/usr/bin/zbarimg"), ["--raw", "-q", scanned])
        #expect(decoded.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == uri, "\(decoded)")

        let planted = daemon.directory.appendingPathComponent("planted.\(format)").path
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: "/etc/twofactord-test-target")
        let refused = try daemon.ctl(["2fa", "enroll", "alice", "--begin", "--qr-image", planted])
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("already exists"), "\(refused.standardError)")
        #expect(access("/etc/twofactord-test-target", F_OK) != 0)
    }

    /// A mistyped first code asks again, the QR code still on the screen; after three wrong ones it gives up.
    @Test(arguments: [1, 3])
    func enroll_wrongCodes_askAgain_upToThree(wrongCodes: Int) throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let added = try daemon.ctl(["user", "add", "erin", "--password-stdin"], input: "correct horse\n")
        #expect(added.status == 0, "\(added.standardError)")

        let enrolled = try runQRCodeDialogue(["2fa", "enroll", "--socket", daemon.socketPath, "erin"]) { secret in
            try (1...wrongCodes).map { try wrongCode(for: secret, $0) } + [OathTool.code(secret: secret, at: unixNow())]
        }
        let wrongAnswers = enrolled.standardError.components(separatedBy: "the code is wrong").count - 1
        let shown = try daemon.ctl(["user", "show", "erin", "--json"])
        if wrongCodes < 3 {
            #expect(enrolled.status == 0, "\(enrolled.standardError)")
            #expect(wrongAnswers == wrongCodes, "\(enrolled.standardError)")
            #expect(enrolled.standardOutput.contains("Two-factor authentication is on for 'erin'."))
            #expect(shown.standardOutput.contains("\"twoFactor\":\"on\""), "\(shown.standardOutput)")
        } else {
            #expect(enrolled.status == 1, "\(enrolled.standardError)")
            #expect(wrongAnswers == 3, "\(enrolled.standardError)")
            #expect(!shown.standardOutput.contains("\"twoFactor\":\"on\""), "\(shown.standardOutput)")
        }
    }

    /// A pending account's login without a code (a script, or Ctrl-D at the prompt) says how to finish.
    @Test func login_pendingAccount_withoutACode_saysHowToFinishTheEnrollment() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "carl", "--require-2fa", "--password-stdin"], input: "pw-carl-secret\n")
        let result = try daemon.login("carl", password: "pw-carl-secret")
        #expect(result.status == 1, "\(result.standardError)")
        #expect(result.standardError.contains("URI: otpauth://"), "\(result.standardError)")
        #expect(
            result.standardError.contains("run `twofactor login carl` on a terminal, scan the QR code"),
            "\(result.standardError)"
        )
    }

    @Test func login_withPasswordAndCode_succeedsOnce() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("bob", password: "pw-bob-secret", period: 3600)
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)

        let withoutCode = try daemon.login("bob", password: "pw-bob-secret")
        #expect(withoutCode.status == 1, "no code given must deny: \(withoutCode.standardError)")

        let ok = try daemon.login("bob", password: "pw-bob-secret", code: next)
        #expect(ok.status == 0, "\(ok.standardError)\n\(daemon.log())")

        let replayed = try daemon.login("bob", password: "pw-bob-secret", code: next)
        #expect(replayed.status == 1)
        #expect(replayed.standardError.contains("login denied"))
    }

    @Test func login_confirmingCodeCannotBeReusedToLogIn() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount(
            "carol",
            password: "pass-phrase",
            period: 3600,
            codeInArgv: true
        )
        let confirming = try OathTool.code(secret: secret, at: step * 3600, period: 3600)
        #expect(try daemon.login("carol", password: "pass-phrase", code: confirming).status == 1)
    }

    @Test func login_wrongCodeWrongPasswordUnknownUser_allDeniedAlike() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("dave", password: "pw-dave-secret", period: 3600)
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let wrong = String(format: "%06d", (Int(next)! + 1) % 1_000_000)

        let results = [
            try daemon.login("dave", password: "pw-dave-secret", code: wrong),
            try daemon.login("dave", password: "not-it", code: next),
            try daemon.login("nobody-here", password: "pw-dave-secret", code: next),
        ]
        for result in results {
            #expect(result.status == 1)
            // One sentence for all three, which says what to try: the README's reader who reuses the enrollment's
            // code meets it first.
            #expect(
                result.standardError
                    == "twofactor: login denied: the password or the code is wrong, or the code was used before "
                    + "(a code works once: wait for the app's next one)\n"
            )
        }
        // None of the failures used up the good code.
        #expect(try daemon.login("dave", password: "pw-dave-secret", code: next).status == 0)
    }

    @Test func login_pendingAccount_enrollsAtFirstLogin() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let added = try daemon.ctl(
            ["user", "add", "erin", "--require-2fa", "--password-stdin"],
            input: "pw-erin-secret\n"
        )
        #expect(added.status == 0, "\(added.standardError)")
        #expect(
            try daemon.ctl(["user", "show", "erin", "--json"]).standardOutput.contains("\"twoFactor\":\"pending\"")
        )

        let login = try runInteractive(
            Binaries.url("twofactor"),
            ["login", "--socket", daemon.socketPath, "erin"],
            firstInput: "pw-erin-secret\n",
            markerOnStandardError: true,
            marker: "URI: "
        ) { shown in
            let uri = try #require(line(after: "URI: ", in: shown))
            let secret = try #require(secretParameter(ofURI: uri))
            return try OathTool.code(secret: secret, at: unixNow()) + "\n"
        }
        #expect(login.status == 0, "\(login.standardError)")
        let shown = try daemon.ctl(["user", "show", "erin", "--json"]).standardOutput
        #expect(shown.contains("\"twoFactor\":\"on\",\"enabledBy\":\"enforced\""), "\(shown)")
    }

    @Test func login_afterTooManyFailures_isLocked() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "frank", "--password-stdin"], input: "pw-frank-secret\n")
        for _ in 0..<5 {
            #expect(try daemon.login("frank", password: "guess").status == 1)
        }
        let locked = try daemon.login("frank", password: "pw-frank-secret")
        #expect(locked.status == 2)
        #expect(locked.standardError.contains("try again in"))
    }

    /// A lock says that an admin or operator can end it sooner, which `twofactorctl unlock` does; in the same words
    /// for a name without an account, locked as an account is, though no unlock ends its lock: other words there
    /// would tell a stranger which names exist (docs/security.md, Strangers cannot lock anyone out).
    @Test func login_locked_saysAnAdminOrOperatorCanUnlock_inTheSameWordsForAnyName() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "frank", "--password-stdin"], input: "pw-frank-secret\n")
        var said: [String] = []
        for name in ["frank", "ghost"] {
            for _ in 0..<5 {
                #expect(try daemon.login(name, password: "guess", uid: nobodyUID).status == 1)
            }
            let locked = try daemon.login(name, password: "guess", uid: nobodyUID)
            #expect(locked.status == 2)
            #expect(
                locked.standardError.contains(
                    "seconds, or have an admin or operator run `twofactorctl unlock \(name)`"
                ),
                "\(locked.standardError)"
            )
            said.append(locked.standardError.replacing(name, with: "NAME").replacing(/[0-9]+ seconds/, with: "N s"))
        }
        #expect(said[0] == said[1], "\(said)")
        #expect(try daemon.ctl(["unlock", "frank"]).status == 0)
        #expect(try daemon.login("frank", password: "pw-frank-secret", uid: nobodyUID).status == 0)
    }

    @Test func login_withoutTwoFactor_needsPasswordOnly() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "gina", "--password-stdin"], input: "pw-gina-secret\n")
        #expect(try daemon.login("gina", password: "pw-gina-secret").status == 0)
        #expect(try daemon.login("gina", password: "pw-ginA-secret").status == 1)
    }
}
