import Glibc

/// Everything a run needs to know; the command line fills it in.
public struct BenchOptions: Sendable {
    public var plan: LoadPlan
    public var accounts: Int
    /// The accounts' TOTP period: 1 gives each account a fresh code every second.
    public var period: UInt16
    /// Connect to a running daemon here instead of starting one.
    public var socketPath: String?
    /// With `socketPath`: the daemon's pid, to read its peak RSS.
    public var daemonPID: Int32?
    /// The twofactord to start when there is no `socketPath`.
    public var daemonExecutable: String
    /// Arguments for the started daemon besides its socket and state directory.
    public var daemonArguments: [String]
    /// Keep the started daemon's directory (state, log) instead of removing it.
    public var keepDirectory: Bool
    /// Write each created account's name and hex TOTP secret here (a new file, mode 0600), one per line, so
    /// another harness (`make bench-compare`'s PAM loop) can log them in.
    public var exportSecretsPath: String? = nil
    /// Write the accounts straight into the started daemon's fresh state directory before it starts
    /// (Preload.swift) instead of creating them through the protocol. Needs a started daemon.
    public var preload = false
    /// The started daemon's scrypt cost (log2 of N), which preloaded password hashes are made at.
    public var scryptLogN: UInt8 = 10
    /// In `login` mode: measure the machine's raw scrypt rate at `scryptLogN` for this long before the load and
    /// again after it (`RawScryptRate`), on `hashThreads` threads; 0 skips it.
    public var rawScryptSeconds = 0.0
    /// How many hashes the daemon runs at once: its `--workers` (2 unless given).
    public var hashThreads = 2

    public init(
        plan: LoadPlan,
        accounts: Int,
        period: UInt16,
        socketPath: String?,
        daemonPID: Int32?,
        daemonExecutable: String,
        daemonArguments: [String],
        keepDirectory: Bool
    ) {
        self.plan = plan
        self.accounts = accounts
        self.period = period
        self.socketPath = socketPath
        self.daemonPID = daemonPID
        self.daemonExecutable = daemonExecutable
        self.daemonArguments = daemonArguments
        self.keepDirectory = keepDirectory
    }
}

/// Starts (or reaches) the daemon, creates the accounts, drives the load, and reports.
/// `progress` gets a line per phase, for standard error.
public func runBenchmark(_ options: BenchOptions, progress: (String) -> Void) throws(BenchError) -> BenchReport {
    var daemon: BenchDaemon?
    var directory: String?
    defer {
        daemon?.stop()
        if let directory, !options.keepDirectory { removeTree(directory) }
    }
    let socketPath: String
    let daemonPID: Int32?
    // Unique per run, so a run against a long-lived daemon never collides with an earlier one.
    let prefix = "bench\(getpid())x\(BenchClock.unixSeconds() % 100_000)x"
    var accounts: [BenchAccount] = []
    var setupSeconds = 0.0
    if let given = options.socketPath {
        guard !options.preload else {
            throw BenchError(
                "--preload writes into the state directory of a daemon the benchmark starts: drop --socket"
            )
        }
        socketPath = given
        daemonPID = options.daemonPID
    } else {
        // Short and under /tmp: a Unix socket path must fit in 108 bytes.
        var template = Array("/tmp/tfbench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BenchError("cannot create a directory under /tmp: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        chmod(made, 0o755)
        if options.preload {
            let stateDirectory = directory! + "/state"
            progress("preloading \(options.accounts) accounts (period \(options.period) s) into \(stateDirectory)")
            let setupStart = BenchClock.nanoseconds()
            accounts = try preloadAccounts(
                count: options.accounts,
                period: options.period,
                prefix: prefix,
                stateDirectory: stateDirectory,
                scryptLogN: options.scryptLogN,
                progress: progress
            )
            setupSeconds = Double(BenchClock.nanoseconds() - setupStart) / 1e9
            progress("preloaded \(accounts.count) accounts in \(fixed(setupSeconds, 1)) s")
        }
        progress("starting \(options.daemonExecutable) in \(directory!)")
        let startedAt = BenchClock.nanoseconds()
        let started = try BenchDaemon(
            executable: options.daemonExecutable,
            directory: directory!,
            arguments: options.daemonArguments
        )
        progress("twofactord answered after \(fixed(Double(BenchClock.nanoseconds() - startedAt) / 1e9, 2)) s")
        daemon = started
        socketPath = started.socketPath
        daemonPID = started.pid
    }

    if !options.preload {
        progress("creating \(options.accounts) accounts with period \(options.period) s")
        let setupStart = BenchClock.nanoseconds()
        accounts = try createAccounts(
            count: options.accounts,
            period: options.period,
            prefix: prefix,
            socketPath: socketPath,
            connections: options.plan.connections
        )
        setupSeconds = Double(BenchClock.nanoseconds() - setupStart) / 1e9
    }
    if let path = options.exportSecretsPath { try exportSecrets(accounts, to: path) }

    let measuresRawScrypt = options.plan.mode == .login && options.rawScryptSeconds > 0
    func rawScrypt(_ when: String) -> Double {
        progress("measuring raw scrypt (2^\(options.scryptLogN), \(options.hashThreads) threads) \(when) the load")
        return measureRawScrypt(
            logN: options.scryptLogN,
            threads: options.hashThreads,
            seconds: options.rawScryptSeconds
        )
    }
    let rawBefore = measuresRawScrypt ? rawScrypt("before") : 0
    progress("driving \(options.plan.connections) connections in mode \(options.plan.mode.rawValue)")
    let tally = drive(options.plan, accounts: accounts, socketPath: socketPath)
    let rawAfter = measuresRawScrypt ? rawScrypt("after") : 0
    let storeSizes = directory.flatMap { fileSizes($0 + "/state/data.mdb") }
    return BenchReport(
        mode: options.plan.mode,
        connections: options.plan.connections,
        accounts: accounts.count,
        period: Int(options.period),
        setupSeconds: setupSeconds,
        elapsedSeconds: Double(tally.elapsedNanoseconds) / 1e9,
        daemonPeakRSSKiB: daemonPID.flatMap(peakResidentKiB(of:)),
        preloaded: options.preload,
        storeBytes: storeSizes?.bytes,
        storeDiskBytes: storeSizes?.diskBytes,
        rawScrypt: measuresRawScrypt
            ? RawScryptRate(before: rawBefore, after: rawAfter, threads: options.hashThreads) : nil,
        tally: tally
    )
}

/// Removes `path` and everything under it, not following symbolic links (the benchmark's own
/// directory: a socket, a log and the state directory).
private func removeTree(_ path: String) {
    var status = stat()
    guard lstat(path, &status) == 0 else { return }
    if status.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) {
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(directory)
        for name in names { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Writes "name hex-secret" lines to a new file at `path`, readable by its owner only.
private func exportSecrets(_ accounts: [BenchAccount], to path: String) throws(BenchError) {
    let file = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard file >= 0 else {
        throw BenchError("cannot create \(path): \(String(cString: strerror(errno))): give a new file name")
    }
    defer { close(file) }
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for account in accounts {
        text += Array(account.name.utf8) + [0x20]
        for byte in account.totp.secret { text += [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]] }
        text.append(0x0a)
    }
    let written = text.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
    guard written == text.count else {
        throw BenchError("cannot write \(path): \(String(cString: strerror(errno)))")
    }
}
