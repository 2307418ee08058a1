import Foundation
import Testing
import Wire

/// What the daemon says and logs: no name that is not an account, as typed; no flag that does not exist.
@Suite struct MessageTests {
    @Test func unknownOrInvalidUserNames_areLoggedAsFingerprints_neverAsTyped() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        // What people type into the user field by mistake: their password, valid as a name or not.
        let typed = ["Tr0ub4dorAndThree", "correct horse battery staple!"]
        for name in typed {
            #expect(try daemon.login(name, password: "pass-phrase", uid: 65534).status == 1)
        }
        let log = daemon.log()
        for name in typed {
            #expect(!log.contains(name), "'\(name)' was logged as typed:\n\(log)")
        }
        let fingerprints = Set(
            log.matches(of: /unknown-[0-9a-f]{8}/).map { String($0.output) }
        )
        #expect(fingerprints.count == 2, "one fingerprint per name typed:\n\(log)")
    }

    /// An answer twofactorctl did not expect is named by its type in the error, never shown whole: a daemon of
    /// another version may send recovery codes or an otpauth URI there, and an error is no place for a secret.
    @Test func anUnexpectedAnswer_isNamedInTheError_notShown() throws {
        let code = "QX7C-ANAR-YREC-OVER"
        let daemon = try HoldingDaemon(answers: [.recoveryCodes([code])])
        let shown = try run(Binaries.url("twofactorctl"), ["user", "show", "alice", "--socket", daemon.path])
        #expect(shown.status == 3, "\(shown.standardError)")
        #expect(shown.standardError.contains("unexpected answer (recoveryCodes)"), "\(shown.standardError)")
        #expect(!shown.standardError.contains(code), "the recovery code is in the error: \(shown.standardError)")
    }

    /// A remote host is believed only from a privileged peer (sshd's PAM module), so only such a peer's is
    /// logged: any other line with `rhost=` would pin a local user's guesses on a host of their choosing.
    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func aRemoteHostFromAnUnprivilegedPeer_isNotLogged_sshdsIs() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pw-alice-1\n")
        let guess = Request.loginFrom(
            user: "alice",
            password: Array("guess".utf8),
            codeKind: .totp,
            code: "123456",
            origin: LoginOrigin(service: "sshd", remoteHost: "203.0.113.66")
        )
        let fromNobody = try PeerConnection(daemon: daemon).call(guess)
        #expect(fromNobody == .loginResult(outcome: .denied, retryAfter: 0, otpauthURI: []))
        let sshd = Request.loginFrom(
            user: "alice",
            password: Array("guess".utf8),
            codeKind: .totp,
            code: "123456",
            origin: LoginOrigin(service: "sshd", remoteHost: "198.51.100.9")
        )
        #expect(try #require(WireClient(path: daemon.socketPath)).call(sshd) != nil)
        let log = daemon.log()
        #expect(!log.contains("203.0.113.66"), "a host nobody claimed was logged:\n\(log)")
        #expect(log.contains("rhost=198.51.100.9"), "\(log)")
    }

    @Test func everyFlagThatAMessageNames_exists() throws {
        var known: Set<String> = []
        for binary in ["twofactord", "twofactor", "twofactorctl", "twofactor-bench"] {
            known.formUnion(try flags(inHelpOf: [binary]))
        }
        #expect(known.contains("--state-dir") && known.contains("--socket"), "help output not understood: \(known)")

        var unknown: [String] = []
        for (file, flag) in try flagsNamedInSourceStrings() where !known.contains(flag) {
            unknown.append("\(flag) in \(file)")
        }
        #expect(unknown.isEmpty, "messages name flags that no --help lists: \(unknown)")
    }

    /// Every `--flag` in the help of `command` and, recursively, of its subcommands.
    private func flags(inHelpOf command: [String]) throws -> Set<String> {
        let result = try run(Binaries.url(command[0]), Array(command.dropFirst()) + ["--help"])
        let text = result.standardOutput + result.standardError
        var found = Set(text.matches(of: /--[a-z][a-z0-9-]*/).map { String($0.output) })
        var inSubcommands = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("SUBCOMMANDS:") {
                inSubcommands = true
            } else if inSubcommands,
                let match = line.wholeMatch(of: #/\ \ ([a-z0-9][a-z0-9-]*)(?:\ \(default\))?(?:\s.*)?/#)
            {
                found.formUnion(try flags(inHelpOf: command + [String(match.output.1)]))
            } else if inSubcommands, !line.hasPrefix("   "), !line.isEmpty {
                inSubcommands = false
            }
        }
        return found
    }

    /// (file, flag) for every `--flag` inside a string literal of Sources/**/*.swift, comments excluded.
    private func flagsNamedInSourceStrings() throws -> [(String, String)] {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources").standardized
        var found: [(String, String)] = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            var inMultiline = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("//") { continue }
                let quotes = line.components(separatedBy: "\"\"\"").count - 1
                var literals: [Substring] = []
                if inMultiline || quotes > 0 {
                    literals = [line[...]]
                } else {
                    literals = line.matches(of: /"(?:[^"\\]|\\.)*"/).map { $0.output }
                }
                if quotes % 2 == 1 { inMultiline.toggle() }
                for literal in literals {
                    for match in literal.matches(of: /--[a-z][a-z0-9-]*/) {
                        found.append((file.lastPathComponent, String(match.output)))
                    }
                }
            }
        }
        return found
    }
}
