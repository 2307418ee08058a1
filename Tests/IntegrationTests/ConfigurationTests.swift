import Foundation
import Glibc
import Testing

/// twofactord.conf through the real daemon: flags win, unsafe files are refused, --check-config
/// shows the settings in force, and SIGHUP applies what can change.
@Suite struct ConfigurationTests {
    static func write(_ text: String, to path: String, mode: Int = 0o644) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    @Test func checkConfig_printsTheFileWithFlagsOnTop() throws {
        let daemon = try DaemonProcess()
        let path = daemon.directory.appendingPathComponent("twofactord.conf").path
        try Self.write("# test\n[daemon]\nworkers = 3\nissuer = Example\n[throttle]\nfree-failures = 9\n", to: path)
        let result = try run(
            Binaries.url("twofactord"),
            ["--config", path, "--check-config", "--workers", "5", "--throttle-max-delay", "60"]
        )
        #expect(result.status == 0, "\(result.standardError)")
        for line in ["workers = 5", "issuer = Example", "free-failures = 9", "max-delay = 60", "socket-mode = 0666"] {
            #expect(result.standardOutput.contains("\n\(line)\n"), "\(line) in \(result.standardOutput)")
        }
        // The output is itself a configuration file that gives the same settings.
        let copy = daemon.directory.appendingPathComponent("copy.conf").path
        try Self.write(result.standardOutput, to: copy)
        let again = try run(Binaries.url("twofactord"), ["--config", copy, "--check-config"])
        #expect(
            again.standardOutput.split(separator: "\n").dropFirst()
                == result.standardOutput.split(separator: "\n").dropFirst()
        )
    }

    /// Audit round b, finding 4: an issuer with control characters reached otpauth URIs, and a relative
    /// state-dir was accepted though socket must be absolute.
    @Test func checkConfig_refusesAnIssuerWithControlCharactersAndARelativeStateDir_sayingWhere() throws {
        let daemon = try DaemonProcess()
        let path = daemon.directory.appendingPathComponent("twofactord.conf").path
        for (text, message) in [
            (
                "[daemon]\nissuer = tw\u{0}o\u{1b}[31mRED\n",
                "\(path) line 2: issuer must be a non-empty name of printable"
            ),
            ("[daemon]\nstate-dir = relative/dir\n", "\(path) line 2: state-dir must be an absolute path"),
        ] {
            try Self.write(text, to: path)
            let result = try run(Binaries.url("twofactord"), ["--config", path, "--check-config"])
            #expect(result.status == 78, "\(text.debugDescription) was accepted: \(result.standardOutput)")
            #expect(result.standardError.contains(message), "\(result.standardError)")
        }
        let flag = try run(Binaries.url("twofactord"), ["--check-config", "--issuer", "tw\u{1b}[31mRED"])
        #expect(flag.status == 64, "\(flag.standardOutput)")
        #expect(flag.standardError.contains("--issuer must be a non-empty name of printable"), "\(flag.standardError)")
    }

    /// twofactord.conf(5) says the example has every key at its default; it lacked max-drift-steps. Its header
    /// says to uncomment and change what you need, but it followed values with remarks such as "(reloadable)",
    /// which the format (no comments at the end of a line) read as part of the value: an uncommented
    /// `issuer` became "twofactord            (reloadable)", and `grace-period` stopped the daemon.
    @Test func exampleFile_showsEveryKeyAtItsDefault_andReadsBackUncommented() throws {
        func settings(_ text: String, commented: Bool) -> Set<String> {
            var section = ""
            var found = Set<String>()
            for line in text.split(separator: "\n") {
                if line.hasPrefix("[") {
                    section = String(line)
                } else if line.hasPrefix(commented ? "# " : ""), let equals = line.firstIndex(of: "=") {
                    let key = line[..<equals].dropFirst(commented ? 2 : 0).trimmingCharacters(in: .whitespaces)
                    let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                    found.insert("\(section) \(key) = \(value)")
                }
            }
            return found
        }
        let example = try String(
            contentsOf: MakefileAndReadmeTests.root.appendingPathComponent("examples/twofactord.conf"),
            encoding: .utf8
        )
        let defaults = try run(Binaries.url("twofactord"), ["--check-config"]).standardOutput
        let shown = settings(example, commented: true)
        let expected = settings(
            defaults.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n"),
            commented: false
        )
        #expect(expected.count >= 20)
        #expect(shown == expected, "missing: \(expected.subtracting(shown)), wrong: \(shown.subtracting(expected))")

        // Uncommented as it stands, every line reads back as the default it shows.
        let daemon = try DaemonProcess()
        let path = daemon.directory.appendingPathComponent("twofactord.conf").path
        let uncommented = example.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("# ") && line.contains(" = ") ? String(line.dropFirst(2)) : String(line)
        }
        try Self.write(uncommented.joined(separator: "\n"), to: path)
        let result = try run(Binaries.url("twofactord"), ["--config", path, "--check-config"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            result.standardOutput.split(separator: "\n").dropFirst() == defaults.split(separator: "\n").dropFirst(),
            "\(result.standardOutput)"
        )
    }

    @Test func checkConfig_namesEveryKeyThatHelpListsAsAFlag() throws {
        let help = try run(Binaries.url("twofactord"), ["--help"]).standardOutput
        let shown = try run(Binaries.url("twofactord"), ["--config", "/dev/null/none", "--check-config"])
        #expect(shown.status == 78, "an explicit --config must exist: \(shown.standardError)")
        let defaults = try run(Binaries.url("twofactord"), ["--check-config"]).standardOutput
        var section = ""
        var keys = 0
        for line in defaults.split(separator: "\n") where !line.hasPrefix("#") {
            if line.hasPrefix("[") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            let key = String(line.split(separator: " = ")[0])
            let flag = section == "daemon" ? "--\(key)" : "--\(section)-\(key)"
            #expect(help.contains(flag), "twofactord --help lacks \(flag)")
            keys += 1
        }
        #expect(keys >= 11)
    }

    @Test(arguments: [
        (0o666, "others can write it"),
        (0o644, "line 2: unknown key 'wokers' in [daemon]"),
    ])
    func daemon_refusesAnUnsafeOrWrongFile_sayingWhichAndWhy(mode: Int, reason: String) throws {
        let daemon = try DaemonProcess()
        let path = daemon.directory.appendingPathComponent("twofactord.conf").path
        try Self.write("[daemon]\n" + (mode == 0o644 ? "wokers = 2\n" : "workers = 2\n"), to: path, mode: mode)
        let result = try run(
            Binaries.url("twofactord"),
            ["--config", path, "--socket", daemon.socketPath, "--state-dir", daemon.stateDirectory]
        )
        #expect(result.status == 78)
        #expect(result.standardError.contains(path) && result.standardError.contains(reason), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
    }

    @Test func sighup_appliesNewThrottleLimits_andNamesWhatNeedsARestart() throws {
        let daemon = try DaemonProcess()
        let path = daemon.directory.appendingPathComponent("twofactord.conf").path
        try Self.write("[throttle]\nfree-failures = 5\n", to: path)
        try daemon.start(extraArguments: ["--config", path])
        #expect(try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "tangerine-42\n").status == 0)
        #expect(try daemon.login("alice", password: "wrong-password").status == 1)
        #expect(try daemon.login("alice", password: "wrong-password").status == 1)
        #expect(try daemon.login("alice", password: "tangerine-42").status == 0, "five free failures before the reload")

        try Self.write("[daemon]\nworkers = 7\n[throttle]\nfree-failures = 1\nbase-delay = 600\n", to: path)
        kill(try #require(daemon.process).processIdentifier, SIGHUP)
        let deadline = Date().addingTimeInterval(20)
        while !daemon.log().contains("configuration reloaded"), Date() < deadline { usleep(20_000) }
        #expect(daemon.log().contains("applied=throttle.free-failures,throttle.base-delay"), "\(daemon.log())")
        #expect(daemon.log().contains("need a restart of twofactord keys=daemon.workers"), "\(daemon.log())")

        #expect(try daemon.login("alice", password: "wrong-password").status == 1)
        let locked = try daemon.login("alice", password: "tangerine-42")
        #expect(locked.status == 2, "one free failure after the reload: \(locked.standardError)")
    }
}
