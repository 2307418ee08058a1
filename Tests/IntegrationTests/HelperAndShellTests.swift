import Foundation
import Glibc
import Testing
import TestSupport

/// `twofactor helper` in both framings, and `twofactor shell`, against a real daemon.
@Suite struct HelperAndShellTests {
    /// The JSON objects of a JSON-lines answer, parsed by Foundation (independent of our writer).
    private func objects(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func helper_jsonLines_roundTrips() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let input = """
            {"op":"login","user":"alice","password":"pw-alice","id":1}
            {"op":"login","user":"alice","password":"pw-alice","code":"\(code)","id":"two"}
            {"op":"login","user":"alice","password":"pw-alice","code":"\(code)"}
            this is not json
            {"op":"fly","user":"alice"}

            """
        let result = try daemon.helper(input: input)
        #expect(result.status == 0, "\(result.standardError)")
        let answers = try objects(result.standardOutput)
        try #require(answers.count == 5, "\(result.standardOutput)")
        #expect(answers[0]["id"] as? Int == 1)
        #expect(answers[0]["outcome"] as? String == "codeNeeded")
        #expect(answers[1]["id"] as? String == "two")
        #expect(answers[1]["outcome"] as? String == "ok")
        #expect(answers[2]["outcome"] as? String == "denied", "a replayed code")
        #expect(answers[3]["code"] as? String == "badRequest")
        #expect(answers[4]["error"] as? String != nil)
        #expect(!result.standardOutput.contains("pw-alice"))
    }

    /// A helper program's mistakes get a JSON error that says what to send, never an answer that hides them: a code
    /// sent as a number was taken for no code and answered codeNeeded.
    @Test func helper_malformedRequests_getAJSONErrorSayingWhatToSend() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        let input = """
            {"op":"login","user":"alice","password":"pw-alice","code":123456,"id":1}
            {"op":"login","user":"alice","password":12345678,"id":2}
            not json
            {"op":"login","user":7,"password":"pw-alice"}
            {"op":"login","user":"alice","password":"pw-alice","code":null,"id":3}
            {"op":"login","user":"mallory","user":"alice","password":"pw-alice","id":4}

            """
        let result = try daemon.helper(input: input)
        #expect(result.status == 0, "\(result.standardError)")
        let answers = try objects(result.standardOutput)
        try #require(answers.count == 6, "\(result.standardOutput)")
        #expect(answers[0]["id"] as? Int == 1)
        #expect(answers[0]["code"] as? String == "badRequest", "\(answers[0])")
        #expect((answers[0]["error"] as? String)?.contains(#""code" is a string"#) == true, "\(answers[0])")
        #expect((answers[1]["error"] as? String)?.contains(#""password" is a string"#) == true, "\(answers[1])")
        for answer in answers[2...3] {
            #expect(answer["code"] as? String == "badRequest", "\(answer)")
            #expect((answer["error"] as? String)?.contains(#"{"op":"login","user":"alice""#) == true, "\(answer)")
        }
        #expect(answers[4]["outcome"] as? String == "codeNeeded", "a null code is no code: \(answers[4])")
        // A reader in front of the helper that takes the last "user" must not see another request than it does.
        #expect(answers[5]["code"] as? String == "badRequest", "a name twice: \(answers[5])")
        #expect((answers[5]["error"] as? String)?.contains("twice") == true, "\(answers[5])")
        #expect(!result.standardOutput.contains("pw-alice"))
    }

    @Test func helper_selfServiceEnrollment_afterALogin_onTheSameConnection() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "erin", "--password-stdin"], input: "pw-erin-123\n")
        let child = try daemon.startHelper()
        let errors = BackgroundReader(child.error)
        child.type(#"{"op":"login","user":"erin","password":"pw-erin-123"}"# + "\n")
        child.type(#"{"op":"enroll-begin","user":"erin"}"# + "\n")
        // Read the two answers before the confirming code can be computed.
        var shown = Data()
        while String(decoding: shown, as: UTF8.self).split(separator: "\n").count < 2 {
            let chunk = child.output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            shown.append(chunk)
        }
        let first = try objects(String(decoding: shown, as: UTF8.self))
        try #require(first.count == 2, "\(String(decoding: shown, as: UTF8.self)) \(errors)")
        #expect(first[0]["outcome"] as? String == "ok")
        let uri = try #require(first[1]["otpauthURI"] as? String, "\(first[1])")
        let code = try OathTool.code(secret: try #require(secretParameter(ofURI: uri)), at: unixNow())
        child.type(#"{"op":"enroll-confirm","user":"erin","code":""# + code + #""}"# + "\n")
        try child.closeInput()
        let rest = child.output.fileHandleForReading.readDataToEndOfFile()
        child.process.waitUntilExit()
        let last = try objects(String(decoding: rest, as: UTF8.self))
        try #require(last.count == 1, "\(errors.text())")
        #expect((last[0]["recoveryCodes"] as? [String])?.count == 10, "\(last[0])")
        let shownAccount = try daemon.ctl(["user", "show", "erin", "--json"])
        #expect(shownAccount.standardOutput.contains("\"twoFactor\":\"on\""), "\(shownAccount.standardOutput)")
    }

    /// The answers a running helper wrote so far, read until there are `count` more than `shown`.
    private func answers(of child: PipedProcess, after shown: inout Data, count: Int) throws -> [[String: Any]] {
        let before = try objects(String(decoding: shown, as: UTF8.self)).count
        while try objects(String(decoding: shown, as: UTF8.self)).count < before + count {
            let chunk = child.output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            shown.append(chunk)
        }
        return Array(try objects(String(decoding: shown, as: UTF8.self)).dropFirst(before))
    }

    /// The daemon closes a connection left idle for five minutes, and every connection when it restarts. A
    /// long-lived helper (a browser's native-messaging host) sent its next request into the closed connection and
    /// answered daemonUnavailable, and only the request after that worked. It now sees the end before it sends and
    /// opens a new connection; a self-service request on it is refused until a new login, saying why.
    @Test func helper_afterTheDaemonClosedItsConnection_reconnectsBeforeSending() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "bob", "--password-stdin"], input: "pw-bob-123\n")
        let child = try daemon.startHelper()
        let errors = BackgroundReader(child.error)
        var shown = Data()
        child.type(#"{"op":"login","user":"bob","password":"pw-bob-123"}"# + "\n")
        let first = try answers(of: child, after: &shown, count: 1)
        #expect(first.first?["outcome"] as? String == "ok", "\(first) \(errors.text())")

        // Stopped and started again, the daemon has closed the helper's connection, as its idle timeout does.
        daemon.stop()
        try daemon.start()
        child.type(#"{"op":"enroll-begin","user":"bob"}"# + "\n")
        let refused = try answers(of: child, after: &shown, count: 1)
        #expect(refused.first?["code"] as? String == "notPermitted", "\(refused)")
        let sentence = refused.first?["error"] as? String ?? ""
        #expect(sentence.contains("log in as 'bob' again"), "\(sentence)")
        #expect(sentence.contains("twofactord closed the helper's connection"), "\(sentence)")

        child.type(#"{"op":"login","user":"bob","password":"pw-bob-123"}"# + "\n")
        let loggedIn = try answers(of: child, after: &shown, count: 1)
        #expect(loggedIn.first?["outcome"] as? String == "ok", "\(loggedIn)")

        daemon.stop()
        try daemon.start()
        child.type(#"{"op":"login","user":"bob","password":"pw-bob-123"}"# + "\n")
        child.type(#"{"op":"enroll-begin","user":"bob"}"# + "\n")
        let again = try answers(of: child, after: &shown, count: 2)
        try child.closeInput()
        child.process.waitUntilExit()
        try #require(again.count == 2, "\(again) \(errors.text())")
        #expect(again[0]["outcome"] as? String == "ok", "the first request after the close: \(again[0])")
        #expect(again[1]["otpauthURI"] as? String != nil, "\(again[1])")
    }

    /// Run by an operator (here `nobody` in the operator group), the helper must not lend that right to whoever
    /// writes its input: a self-service request goes out only while its user is logged in on the connection.
    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func helper_runByAnOperator_sendsNoSelfServiceRequest_withoutALoginOfItsUser() throws {
        let operators = try ThrowawayGroup()
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--operator-group", operators.name])
        _ = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        _ = try daemon.ctl(["user", "add", "bob", "--password-stdin"], input: "pw-bob-123\n")
        let input = """
            {"op":"enroll-begin","user":"bob"}
            {"op":"disable","user":"alice"}
            {"op":"login","user":"bob","password":"wrong"}
            {"op":"disable","user":"alice"}
            {"op":"login","user":"bob","password":"pw-bob-123"}
            {"op":"enroll-confirm","user":"alice","code":"123456"}
            {"op":"disable","user":"alice"}
            {"op":"login","user":"bob","password":"\(String(repeating: "p", count: 300))"}
            {"op":"disable","user":"bob"}
            {"op":"login","user":"bob","password":"wrong-again"}
            {"op":"enroll-begin","user":"bob"}

            """
        let result = try daemon.helper(input: input, groupID: operators.gid)
        let answers = try objects(result.standardOutput)
        try #require(answers.count == 11, "\(result.standardOutput)")
        for index in [0, 1, 3, 5, 6, 10] {
            #expect(answers[index]["code"] as? String == "notPermitted", "\(index): \(answers[index])")
            #expect((answers[index]["error"] as? String)?.contains("log in as") == true, "\(index): \(answers[index])")
        }
        #expect(answers[2]["outcome"] as? String == "codeNeeded", "a wrong password without a code, as every other")
        #expect(answers[4]["outcome"] as? String == "ok")
        // A password past the protocol's limit is refused before anything is sent: bob stays logged in.
        #expect(answers[7]["code"] as? String == "badRequest", "\(answers[7])")
        #expect(answers[8]["done"] as? Bool == true, "\(answers[8])")
        #expect(answers[9]["outcome"] as? String == "codeNeeded")
        let alice = try daemon.ctl(["user", "show", "alice", "--json"])
        #expect(alice.standardOutput.contains("\"twoFactor\":\"on\""), "\(alice.standardOutput)")
        let bob = try daemon.ctl(["user", "show", "bob", "--json"])
        #expect(bob.standardOutput.contains("\"twoFactor\":\"off\""), "\(bob.standardOutput)")
    }

    @Test func helper_nativeMessaging_roundTrips() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "bob", "--password-stdin"], input: "pw-bob-123\n")
        func frame(_ json: String) -> [UInt8] {
            let body = Array(json.utf8)
            return withUnsafeBytes(of: UInt32(body.count).littleEndian) { Array($0) } + body
        }
        let requests =
            frame(#"{"op":"login","user":"bob","password":"pw-bob-123"}"#)
            + frame(#"{"op":"login","user":"bob","password":"nope","code":"123456"}"#)
        let child = try daemon.startHelper(["--native-messaging"])
        _ = ignoreBrokenPipes
        try child.input.fileHandleForWriting.write(contentsOf: Data(requests))
        try child.closeInput()
        let errors = BackgroundReader(child.error)
        let output = [UInt8](child.output.fileHandleForReading.readDataToEndOfFile())
        child.process.waitUntilExit()
        #expect(child.process.terminationStatus == 0, "\(errors.text())")

        var answers: [[String: Any]] = []
        var offset = 0
        while offset + 4 <= output.count {
            let length = output[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | Int($1) }
            let body = Data(output[offset + 4..<min(output.count, offset + 4 + length)])
            answers.append(try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any]))
            offset += 4 + length
        }
        #expect(offset == output.count)
        try #require(answers.count == 2)
        #expect(answers[0]["outcome"] as? String == "ok")
        #expect(answers[1]["outcome"] as? String == "denied")
    }

    /// Whoever writes the helper's requests logs in with the standing of its peer credentials. As root, its wrong
    /// passwords counted as a privileged peer's, against the account: five of them, from anyone who could write to
    /// a helper run under sudo or by a root service, locked the account for sshd from every host (a hundred, until
    /// an unlock). The helper now refuses to run as root; as a user of its own its guesses lock only that user.
    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func helper_asRoot_refusesToStart_soWhoeverWritesItsInputCannotLockAnAccountForSshd() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pw-alice-1\n")
        let guesses = String(repeating: #"{"op":"login","user":"alice","password":"wrong"}"# + "\n", count: 6)
        let asRoot = try run(Binaries.url("twofactor"), ["helper", "--socket", daemon.socketPath], input: guesses)
        #expect(asRoot.status == 64, "\(asRoot.standardOutput)")
        #expect(asRoot.standardOutput.isEmpty)
        #expect(asRoot.standardError.contains("does not run as root"), "\(asRoot.standardError)")
        let asItsOwnUser = try daemon.helper(input: guesses)
        #expect(asItsOwnUser.standardOutput.contains(#""outcome":"locked""#), "\(asItsOwnUser.standardOutput)")

        // sshd (pam_exec's items, as PAMExecTests lays them out) still logs alice in from any host.
        for host in ["198.51.100.9", "203.0.113.5"] {
            let sshd = try run(
                URL(fileURLWithPath: "/usr/bin/env"),
                [
                    "-i", "PAM_SERVICE=sshd", "PAM_USER=alice", "PAM_RHOST=\(host)", "PAM_TYPE=auth",
                    Binaries.url("twofactor").path, "pam", "--socket", daemon.socketPath,
                ],
                input: "pw-alice-1"
            )
            #expect(sshd.status == 0, "\(host): \(sshd.standardError)\n\(daemon.log())")
        }
    }

    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func shell_runsTheCommandOnlyAfterTheRightCode() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        // Run as root, the shell checks the code alone (CodeCheck): root is a privileged peer.
        let (secret, step) = try daemon.enrolledAccount("root", password: "pw-root-123", period: 3600)
        let arguments = ["shell", "--socket", daemon.socketPath, "--shell", "/bin/sh", "-c", "echo shell-ran"]
        let wrong = try run(
            Binaries.url("twofactor"),
            arguments,
            input: try OathTool.code(secret: secret, at: (step + 5) * 3600, period: 3600) + "\n"
        )
        #expect(wrong.status == 1)
        #expect(!wrong.standardOutput.contains("shell-ran"))
        let none = try run(Binaries.url("twofactor"), arguments, input: "")
        #expect(none.status != 0)
        #expect(!none.standardOutput.contains("shell-ran"))
        let right = try run(
            Binaries.url("twofactor"),
            arguments,
            input: try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600) + "\n"
        )
        #expect(right.status == 0, "\(right.standardError)\n\(daemon.log())")
        #expect(right.standardOutput == "shell-ran\n")
        #expect(!right.standardError.contains("Password"))
    }

    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func shell_pendingAccount_enrollsThenRunsTheCommand() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let added = try daemon.ctl(
            ["user", "add", "root", "--require-2fa", "--password-stdin"],
            input: "pw-root-123\n"
        )
        #expect(added.status == 0, "\(added.standardError)")
        let result = try runInteractive(
            Binaries.url("twofactor"),
            ["shell", "--socket", daemon.socketPath, "--shell", "/bin/sh", "-c", "echo shell-ran"],
            firstInput: "",
            markerOnStandardError: true,
            marker: "URI: "
        ) { shown in
            let uri = try #require(line(after: "URI: ", in: shown))
            return try OathTool.code(secret: try #require(secretParameter(ofURI: uri)), at: unixNow()) + "\n"
        }
        #expect(result.status == 0, "\(result.standardError)\n\(daemon.log())")
        #expect(result.standardOutput == "shell-ran\n")
        // The same words as `twofactor login` (EnrollmentAndLoginTests): one text whichever way in.
        #expect(
            result.standardError.contains("Two-factor authentication is required for 'root'."),
            "\(result.standardError)"
        )
        #expect(
            result.standardError.contains("Two-factor authentication is now on for 'root'."),
            "\(result.standardError)"
        )
        #expect(
            result.standardError.contains("Recovery codes: each works once in place of a code from the app."),
            "\(result.standardError)"
        )
        let shown = try daemon.ctl(["user", "show", "root", "--json"])
        #expect(shown.standardOutput.contains("\"twoFactor\":\"on\""), "\(shown.standardOutput)")
    }

    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func shell_installedSetGroupID_checksTheCodeAlone_thenRunsTheCommandWithoutTheGroup() throws {
        let group = try ThrowawayGroup()
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--code-check-group", group.name])
        let (secret, step) = try daemon.enrolledAccount("nobody", password: "pw-nobody", period: 3600)
        let twofactor = daemon.directory.appendingPathComponent("twofactor")
        try FileManager.default.copyItem(at: Binaries.url("twofactor"), to: twofactor)
        chown(twofactor.path, 0, group.gid)
        chmod(twofactor.path, 0o2755)
        // Not a shell: dash and bash drop a set-group-ID themselves, which would hide whether the wrapper did.
        let arguments = [
            "shell", "--socket", daemon.socketPath, "--shell", "/usr/bin/python3", "-c",
            "import os; print(os.getresgid(), os.getgroups())",
        ]
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let result = try run(twofactor, arguments, input: "\(code)\n", uid: nobodyUID)
        #expect(result.status == 0, "\(result.standardError)\n\(daemon.log())")
        // The group let it check the code alone; the command then ran with none of it (real, effective, saved).
        #expect(!result.standardError.contains("Password"), "\(result.standardError)")
        #expect(result.standardOutput == "(\(nobodyUID), \(nobodyUID), \(nobodyUID)) []\n")

        // Nor does it trust a daemon its caller runs: that daemon would answer `ok` to anything.
        let foreign = try ForeignDaemon(uid: nobodyUID)
        let fake = try run(
            twofactor,
            ["shell", "--socket", foreign.socketPath, "--shell", "/bin/sh", "-c", "echo shell-ran"],
            input: "\(code)\n",
            uid: nobodyUID
        )
        #expect(fake.status == 3)
        #expect(!fake.standardOutput.contains("shell-ran"))
        #expect(fake.standardError.contains("runs as uid \(nobodyUID), which is not root or twofactord's user"))
        #expect(!fake.standardError.contains("you,"), "it runs as the caller: \(fake.standardError)")
    }

    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func shell_forAnUnprivilegedUser_asksForThePasswordToo() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("nobody", password: "pw-nobody", period: 3600)
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let twofactor = daemon.directory.appendingPathComponent("twofactor")
        try FileManager.default.copyItem(at: Binaries.url("twofactor"), to: twofactor)
        chmod(twofactor.path, 0o755)
        let arguments = ["shell", "--socket", daemon.socketPath, "--shell", "/bin/sh", "-c", "id -u"]
        let wrong = try run(twofactor, arguments, input: "bad-password\n\(code)\n", uid: nobodyUID)
        #expect(!wrong.standardOutput.contains("\(nobodyUID)"))
        let right = try run(twofactor, arguments, input: "pw-nobody\n\(code)\n", uid: nobodyUID)
        #expect(right.status == 0, "\(right.standardError)\n\(daemon.log())")
        #expect(right.standardOutput == "\(nobodyUID)\n")
        #expect(right.standardError.contains("Password: "))
    }
}
