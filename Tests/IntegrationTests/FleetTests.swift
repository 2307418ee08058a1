import Foundation
import Testing
import TestSupport
import Wire

/// Issue 10 through the real binaries: twofactord processes sharing one PostgreSQL database (a throwaway
/// cluster, see PostgresCluster), codes from oathtool.
@Suite struct FleetTests {
    static let password = "fleet-Passw0rd!"

    /// The flags of a daemon on `url`, with the test role's password file and a key file every daemon shares.
    static func storeArguments(url: String, cluster: PostgresCluster, keyDirectory: TemporaryDirectory) -> [String] {
        [
            "--store", url, "--store-password-file", cluster.passwordFile,
            "--secrets-key-file", keyDirectory.path + "/secrets.key",
        ]
    }

    @Test func twoDaemonsSharingOneDatabase_shareAccounts_andACodeAcceptedByOneIsRefusedByTheOther() throws {
        let cluster = try PostgresCluster.shared.get()
        let keys = TemporaryDirectory()
        let arguments = Self.storeArguments(url: try cluster.makeDatabase(), cluster: cluster, keyDirectory: keys)
        let hostA = try DaemonProcess()
        let hostB = try DaemonProcess()
        try hostA.start(extraArguments: arguments)
        try hostB.start(extraArguments: arguments)

        // Enrolled through A, seen and served by B.
        let (secret, step) = try hostA.enrolledAccount("alice", password: Self.password, period: 3600)
        let shown = try hostB.ctl(["user", "show", "alice"])
        #expect(shown.status == 0 && shown.standardOutput.contains("alice"), "\(shown.standardError)")
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let accepted = try hostB.login("alice", password: Self.password, code: next)
        #expect(accepted.status == 0, "\(accepted.standardError)\n\(hostB.log())")
        let replayed = try hostA.login("alice", password: Self.password, code: next)
        #expect(replayed.status == 1, "host A accepted a code host B had accepted:\n\(replayed.standardOutput)")

        // The other way round, with an account added through B.
        let (bobSecret, bobStep) = try hostB.enrolledAccount("bob", password: Self.password, period: 3600)
        let bobCode = try OathTool.code(secret: bobSecret, at: (bobStep + 1) * 3600, period: 3600)
        #expect(try hostA.login("bob", password: Self.password, code: bobCode).status == 0)
        #expect(try hostB.login("bob", password: Self.password, code: bobCode).status == 1)
        #expect(hostA.log().contains("serving from the PostgreSQL store"))
        #expect(
            !hostA.log().contains(PostgresCluster.rolePassword) && !hostB.log().contains(PostgresCluster.rolePassword)
        )
    }

    /// A session on one host ends when another host changes the account: the stamp is computed from the shared
    /// record, with its secrets opened, so its own changes on PostgreSQL carry it over as on LMDB.
    @Test(.enabled(if: runningAsRoot, "the logged-in connection is nobody's, through setpriv"))
    func aSessionOnOneHost_keepsItsOwnChange_andEndsWithAResetThroughAnother() throws {
        let cluster = try PostgresCluster.shared.get()
        let keys = TemporaryDirectory()
        let arguments = Self.storeArguments(url: try cluster.makeDatabase(), cluster: cluster, keyDirectory: keys)
        let hostA = try DaemonProcess()
        let hostB = try DaemonProcess()
        try hostA.start(extraArguments: arguments)
        try hostB.start(extraArguments: arguments)
        let (secret, step) = try hostA.enrolledAccount("erin", password: Self.password, period: 3600)
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)

        let connection = try PeerConnection(daemon: hostA)
        let login = connection.call(
            .login(user: "erin", password: Array(Self.password.utf8), codeKind: .totp, code: code)
        )
        #expect(login == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []), "\(hostA.log())")
        #expect(connection.call(.userSetPassword(user: "erin", password: Array("erins-own-Passw0rd".utf8))) == .done)
        guard case .userInfo? = connection.call(.userShow(user: "erin")) else {
            Issue.record("the session's own password change on PostgreSQL logged it out")
            return
        }
        #expect(try hostB.ctl(["2fa", "reset", "erin"]).status == 0)
        guard case .error(.notPermitted, let message)? = connection.call(.userShow(user: "erin")) else {
            Issue.record("a reset through host B left the session on host A acting for erin")
            return
        }
        #expect(message.hasPrefix("log in again"), "\(message)")
    }

    @Test func postgresqlDown_loginsFailWithAnError_andTheDaemonReconnectsByItself() throws {
        // A cluster of its own: stopping the shared one would break the tests running beside this one.
        let cluster = try PostgresCluster()
        let keys = TemporaryDirectory()
        let daemon = try DaemonProcess()
        try daemon.start(
            extraArguments: Self.storeArguments(url: try cluster.makeDatabase(), cluster: cluster, keyDirectory: keys)
        )
        let (secret, step) = try daemon.enrolledAccount("carol", password: Self.password, period: 3600)
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)

        cluster.stop(immediate: false)
        let down = try daemon.login("carol", password: Self.password, code: next)
        #expect(down.status != 0, "a login succeeded with the database down")
        #expect(!down.standardOutput.lowercased().contains("welcome"))
        #expect(daemon.log().contains("PostgreSQL"), "the daemon's log says nothing of the database:\n\(daemon.log())")

        try cluster.start()
        let back = try daemon.login("carol", password: Self.password, code: next)
        #expect(back.status == 0, "no login after the database came back: \(back.standardError)\n\(daemon.log())")
        #expect(daemon.log().contains("reconnected to PostgreSQL"), "\(daemon.log())")
        #expect(try daemon.login("carol", password: Self.password, code: next).status == 1)
    }

    /// A pooled connection whose backend the server is terminating (pg_terminate_backend, as a restart or
    /// idle_session_timeout does) before the pool saw it close costs no request: the request's first statement
    /// meets the server's 57P01 and the request runs again on a new connection. To hold that moment, the test
    /// stops the daemon's backends (SIGSTOP), terminates them, and lets them go on once a login's first
    /// statement waits in one's socket. Counted over rounds; then a code, accepted on the first try and once.
    @Test(.enabled(if: runningAsRoot, "stopping the server's backends needs root"))
    func backendsTerminatedUnderALogin_theLoginStillSucceeds_onANewConnection() throws {
        let cluster = try PostgresCluster.shared.get()
        let keys = TemporaryDirectory()
        let url = try cluster.makeDatabase()
        let database = try #require(url.split(separator: "@/").last?.split(separator: "?").first)
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: Self.storeArguments(url: url, cluster: cluster, keyDirectory: keys))
        let added = try daemon.ctl(["user", "add", "paul", "--password-stdin"], input: Self.password + "\n")
        #expect(added.status == 0, "\(added.standardError)")
        let (secret, step) = try daemon.enrolledAccount("rita", password: Self.password, period: 3600)

        /// A login with the daemon's backends stopped and terminated, resumed once the login's statement waits.
        func loginUnderTermination(_ input: String, of user: String) throws -> (status: Int32, standardError: String) {
            // A login first, so that the pool holds an open connection to be terminated.
            _ = try daemon.login("paul", password: Self.password)
            let backends = try cluster.psql(
                "SELECT pid FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()"
            ).split(separator: "\n").compactMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
            guard !backends.isEmpty else { throw Failure("the daemon holds no connection to terminate") }
            for pid in backends { kill(pid, SIGSTOP) }
            defer { for pid in backends { kill(pid, SIGCONT) } }
            let list = backends.map(String.init).joined(separator: ", ")
            try cluster.psql("SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[\(list)]::int[]) AS pid")
            let login = try PipedProcess(Binaries.url("twofactor"), ["login", "--socket", daemon.socketPath, user])
            login.type(input)
            try login.closeInput()
            let errors = BackgroundReader(login.error)
            // Until a statement waits unread in a stopped backend's socket (ss: Recv-Q, the third column).
            for _ in 0..<1_000 {
                let sockets = try run(URL(fileURLWithPath: "/usr/bin/ss"), ["-xpnH"]).standardOutput
                let waiting = sockets.split(separator: "\n").contains { line in
                    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                    return fields.count > 2 && Int(fields[2]) ?? 0 > 0
                        && backends.contains { line.contains("pid=\($0),") }
                }
                if waiting { break }
                usleep(5_000)
            }
            for pid in backends { kill(pid, SIGCONT) }
            _ = login.output.fileHandleForReading.readDataToEndOfFile()
            login.process.waitUntilExit()
            return (login.process.terminationStatus, errors.text())
        }

        var failures: [String] = []
        for round in 1...3 {
            let login = try loginUnderTermination(Self.password + "\n", of: "paul")
            if login.status != 0 { failures.append("round \(round): \(login.standardError)") }
        }
        #expect(failures.isEmpty, "\(failures.count) of 3 logins failed: \(failures)\n\(daemon.log())")

        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let accepted = try loginUnderTermination(Self.password + "\n" + code + "\n", of: "rita")
        #expect(accepted.status == 0, "\(accepted.standardError)\n\(daemon.log())")
        #expect(try daemon.login("rita", password: Self.password, code: code).status == 1)
    }

    @Test func copyStoreTo_movesAHostFromLMDBIntoPostgresqlAndBack_keepingReplaySteps() throws {
        let cluster = try PostgresCluster.shared.get()
        let url = try cluster.makeDatabase()
        let single = try DaemonProcess()
        try single.start()
        let (secret, step) = try single.enrolledAccount("dave", password: Self.password, period: 3600)
        let used = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try single.login("dave", password: Self.password, code: used).status == 0)
        #expect(single.stop() == 0)

        let into = try run(
            Binaries.url("twofactord"),
            [
                "--state-dir", single.stateDirectory, "--copy-store-to", url, "--store-password-file",
                cluster.passwordFile,
            ]
        )
        #expect(into.status == 0, "\(into.standardError)")
        #expect(into.standardOutput.contains("1 accounts"), "\(into.standardOutput)")

        // The host now serves from PostgreSQL, with the key of its old state directory.
        let key = single.stateDirectory + "/secrets.key"
        let fleet = try DaemonProcess()
        try fleet.start(extraArguments: [
            "--store", url, "--store-password-file", cluster.passwordFile, "--secrets-key-file", key,
        ])
        #expect(try fleet.login("dave", password: Self.password, code: used).status == 1, "a used code came back")
        #expect(fleet.stop() == 0)

        let again = try DaemonProcess()
        let out = try run(
            Binaries.url("twofactord"),
            [
                "--store", url, "--store-password-file", cluster.passwordFile, "--secrets-key-file", key,
                "--state-dir", fleet.stateDirectory, "--copy-store-to", again.stateDirectory,
            ]
        )
        #expect(out.status == 0, "\(out.standardError)")
        try again.start(extraArguments: ["--secrets-key-file", key])
        #expect(try again.login("dave", password: Self.password, code: used).status == 1, "a used code came back")
        let shown = try again.ctl(["user", "show", "dave"])
        #expect(shown.status == 0, "\(shown.standardError)")
    }

    @Test func check_ofAPostgresqlStore_makesNoKeyFile() throws {
        let cluster = try PostgresCluster.shared.get()
        let keys = TemporaryDirectory()
        let url = try cluster.makeDatabase()
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: Self.storeArguments(url: url, cluster: cluster, keyDirectory: keys))
        _ = try daemon.enrolledAccount("alice", password: Self.password, period: 3600)
        #expect(daemon.stop() == 0)
        let store = ["--store", url, "--store-password-file", cluster.passwordFile]

        let missing = keys.path + "/not-there.key"
        let named = try run(
            Binaries.url("twofactord"),
            ["--state-dir", daemon.stateDirectory, "--check", "--secrets-key-file", missing] + store
        )
        #expect(named.status == 1, "\(named)")
        #expect(access(missing, F_OK) != 0, "--check made a key file")
        let emptyState = daemon.directory.appendingPathComponent("no-state").path
        let defaulted = try run(Binaries.url("twofactord"), ["--state-dir", emptyState, "--check"] + store)
        #expect(defaulted.status == 1, "\(defaulted)")
        #expect(access(emptyState, F_OK) != 0, "--check made a state directory and a key in it")

        let good = try run(
            Binaries.url("twofactord"),
            ["--state-dir", daemon.stateDirectory, "--check", "--secrets-key-file", keys.path + "/secrets.key"] + store
        )
        #expect(good.status == 0, "\(good)")
    }

    /// A check changes nothing: on an empty database it says the schema is missing and a daemon would create
    /// it, and creates no table.
    @Test func check_ofAnEmptyDatabase_createsNoTable_andSaysADaemonWouldCreateTheSchema() throws {
        let cluster = try PostgresCluster.shared.get()
        let keys = TemporaryDirectory()
        let url = try cluster.makeDatabase()
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        let keyFile = keys.path + "/secrets.key"
        #expect(FileManager.default.createFile(atPath: keyFile, contents: key, attributes: [.posixPermissions: 0o600]))
        let daemon = try DaemonProcess()
        let check = try run(
            Binaries.url("twofactord"),
            ["--state-dir", daemon.stateDirectory, "--check"]
                + Self.storeArguments(url: url, cluster: cluster, keyDirectory: keys)
        )
        #expect(check.status == 1, "\(check)")
        #expect(
            check.standardError.contains("no twofactord schema yet")
                && check.standardError.contains("nothing was changed"),
            "\(check.standardError)"
        )
        // The URL is postgresql://ROLE@/DATABASE?host=...
        let database = try #require(url.split(separator: "@/").last?.split(separator: "?").first)
        let tables = try cluster.psql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            database: String(database)
        )
        #expect(tables.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "--check created tables")
    }

    @Test func storeURL_withAPassword_isRefused_withoutEchoingIt() throws {
        let daemon = try DaemonProcess()
        let result = try run(
            Binaries.url("twofactord"),
            [
                "--state-dir", daemon.stateDirectory, "--store", "postgresql://tfd:Hunter2-secret@db.example/tfd",
                "--check-config",
            ]
        )
        #expect(result.status != 0)
        #expect(result.standardError.contains("store-password-file"), "\(result.standardError)")
        #expect(!result.standardError.contains("Hunter2-secret"))
    }

    /// The path of a built program as /proc/PID/exe gives it (TWOFACTORD_BIN_DIR may be `.build/release`, a link).
    static func resolved(_ program: String) -> String {
        Binaries.url(program).resolvingSymlinksInPath().path
    }

    /// twofactord links no PostgreSQL store: for one it runs twofactord-postgres in its own process, so the
    /// process that serves keeps the id its starter knows (socket activation's LISTEN_PID, the unit's main PID).
    @Test func twofactordWithAPostgresStore_becomesTwofactordPostgres_inTheSameProcess() throws {
        let cluster = try PostgresCluster.shared.get()
        let keys = TemporaryDirectory()
        let daemon = try DaemonProcess()
        try daemon.start(
            extraArguments: Self.storeArguments(url: try cluster.makeDatabase(), cluster: cluster, keyDirectory: keys)
        )
        let pid = try #require(daemon.process?.processIdentifier)
        let program = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        #expect(program == Self.resolved("twofactord-postgres"), "\(program)")
        let (secret, step) = try daemon.enrolledAccount("nina", password: Self.password, period: 3600)
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try daemon.login("nina", password: Self.password, code: code).status == 0, "\(daemon.log())")

        let lmdb = try DaemonProcess()
        try lmdb.start()
        let lmdbPID = try #require(lmdb.process?.processIdentifier)
        let lmdbProgram = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(lmdbPID)/exe")
        #expect(lmdbProgram == Self.resolved("twofactord"), "\(lmdbProgram)")
    }

    /// Without twofactord-postgres beside it, twofactord still serves LMDB, and refuses a PostgreSQL store (as
    /// --store or as the target of a copy) saying what is missing, before it opens or creates anything.
    @Test func twofactordWithoutTwofactordPostgres_servesLMDB_andRefusesAPostgresStore_sayingWhatIsMissing() throws {
        let alone = TemporaryDirectory()
        let program = URL(fileURLWithPath: alone.path).appendingPathComponent("twofactord")
        try FileManager.default.copyItem(at: Binaries.url("twofactord"), to: program)
        let daemon = try DaemonProcess()
        let untouched = daemon.directory.appendingPathComponent("untouched").path
        for job in [["--store", "postgresql://tfd@db.example/tfd"], ["--copy-store-to", "postgres://db.example/tfd"]] {
            let result = try run(program, ["--state-dir", untouched, "--socket", untouched + ".socket"] + job)
            #expect(result.status == 1, "\(job): \(result)")
            #expect(
                result.standardError.contains(alone.path + "/twofactord-postgres cannot be run")
                    && result.standardError.contains("install it beside twofactord"),
                "\(result.standardError)"
            )
            #expect(access(untouched, F_OK) != 0 && access(untouched + ".socket", F_OK) != 0, "\(job) made files")
        }

        let served = try RunningChild(
            [
                program.path, "--socket", daemon.socketPath, "--state-dir", daemon.stateDirectory, "--scrypt-log-n",
                "10",
            ],
            output: daemon.directory.appendingPathComponent("alone.log").path
        )
        defer {
            served.signal(SIGTERM)
            _ = served.waitUntilExit()
        }
        try served.waitUntilListening(on: daemon.socketPath) { "twofactord alone did not serve LMDB" }
    }

    /// Socket activation and sd_notify carry over: twofactord-postgres, in the process the activator started,
    /// serves the inherited socket (LISTEN_PID names that process) and tells the service manager it is ready.
    @Test func socketActivatedWithAPostgresStore_twofactordPostgresServesTheInheritedSocket_andNotifiesReady() throws {
        let cluster = try PostgresCluster.shared.get()
        let keys = TemporaryDirectory()
        let daemon = try DaemonProcess()
        let receiver = DatagramReceiver(path: daemon.directory.appendingPathComponent("notify").path)
        let activator = try ChildProcess.start(
            [
                "/usr/bin/systemd-socket-activate", "-l", daemon.socketPath, "-E", "NOTIFY_SOCKET=\(receiver.path)",
                Binaries.url("twofactord").path, "--state-dir", daemon.stateDirectory, "--scrypt-log-n", "10",
            ] + Self.storeArguments(url: try cluster.makeDatabase(), cluster: cluster, keyDirectory: keys)
        )
        defer {
            kill(activator, SIGTERM)
            ChildProcess.wait(activator)
        }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: daemon.socketPath), Date() < deadline { usleep(20_000) }

        // The first connection starts the daemon.
        let added = try daemon.ctl(["user", "add", "olga", "--password-stdin"], input: Self.password + "\n")
        #expect(added.status == 0, "\(added.standardError)")
        var messages: [String] = []
        while !messages.contains(where: { $0.contains("READY=1") }), let message = receiver.receive() {
            messages.append(message)
        }
        #expect(messages.contains { $0.contains("READY=1") && $0.contains("STATUS=Serving on fd 3") }, "\(messages)")
        let program = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(activator)/exe")
        #expect(program == Self.resolved("twofactord-postgres"), "\(program)")
    }
}
