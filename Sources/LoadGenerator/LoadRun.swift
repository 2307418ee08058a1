import DaemonClient
import OneTimePassword
import Wire

/// What each request of a run is.
public enum BenchMode: String, Sendable, CaseIterable {
    /// CodeCheck with a fresh valid code: the code-only verification a PAM stack makes after pam_unix.
    case verify
    /// Login with the password and a fresh valid code (one request; scrypt runs in the daemon).
    case login
    /// As verify, with every tenth request a wrong code: each must be denied.
    case mixed
    /// A valid CodeCheck, then the same code again on the same account: every replay must be denied.
    case replay
}

/// How long and how hard to drive the daemon.
public struct LoadPlan: Sendable {
    public var mode: BenchMode
    public var connections: Int
    /// Run for this long, unless `count` ends it first.
    public var seconds: Double
    /// Stop after this many requests in total, when set.
    public var count: Int?

    public init(mode: BenchMode, connections: Int, seconds: Double, count: Int?) {
        self.mode = mode
        self.connections = connections
        self.seconds = seconds
        self.count = count
    }
}

/// What one connection saw. Merged into a `BenchReport`.
struct WorkerTally: Sendable {
    var requests = 0
    var validSent = 0
    var validAccepted = 0
    /// Valid, fresh codes that were not answered `ok`.
    var validRefused = 0
    /// Fresh steps not sent because their code is the code of a step the account used just before
    /// (`BenchAccount.code(ofFreshStep:)`).
    var repeatedCodesSkipped = 0
    var wrongSent = 0
    var wrongDenied = 0
    var replaysSent = 0
    var replaysDenied = 0
    /// Wrong or replayed codes answered `ok`: a broken replay guard.
    var badAccepted = 0
    /// Wrong or replayed codes answered anything but `denied` (`ok` included).
    var badNotDenied = 0
    var errorResponses = 0
    var transportErrors = 0
    /// Seconds this connection waited because all its accounts had used the current step.
    var accountWaitSeconds = 0.0
    var latencies = Latencies()
    var elapsedNanoseconds: UInt64 = 0
    var firstError: String?

    mutating func merge(_ other: WorkerTally) {
        requests += other.requests
        validSent += other.validSent
        validAccepted += other.validAccepted
        validRefused += other.validRefused
        repeatedCodesSkipped += other.repeatedCodesSkipped
        wrongSent += other.wrongSent
        wrongDenied += other.wrongDenied
        replaysSent += other.replaysSent
        replaysDenied += other.replaysDenied
        badAccepted += other.badAccepted
        badNotDenied += other.badNotDenied
        errorResponses += other.errorResponses
        transportErrors += other.transportErrors
        accountWaitSeconds += other.accountWaitSeconds
        latencies.merge(other.latencies)
        elapsedNanoseconds = max(elapsedNanoseconds, other.elapsedNanoseconds)
        firstError = firstError ?? other.firstError
    }
}

/// Drives `plan.connections` connections, each owning every `connections`-th account (in a random order), so
/// no two connections ever send a code for the same account and step.
func drive(_ plan: LoadPlan, accounts: [BenchAccount], socketPath: String) -> WorkerTally {
    let start = BenchClock.nanoseconds()
    let end = start + UInt64(plan.seconds * 1e9)
    let perWorkerLimit = plan.count.map { ($0 + plan.connections - 1) / plan.connections }
    let tallies = onThreads(plan.connections) { worker in
        var mine = stride(from: worker, to: accounts.count, by: plan.connections).map { accounts[$0] }
        // Walked in a random order, so a run that reaches only part of a large pool (a million accounts in
        // ten seconds) still touches records across the whole key space, not one contiguous run of pages.
        mine.shuffle()
        var driver = Driver(mode: plan.mode, socketPath: socketPath)
        driver.run(&mine, until: end, limit: perWorkerLimit)
        driver.tally.elapsedNanoseconds = BenchClock.nanoseconds() - start
        return driver.tally
    }
    var total = WorkerTally()
    for tally in tallies { total.merge(tally) }
    return total
}

/// One connection's loop.
private struct Driver {
    let mode: BenchMode
    let socketPath: String
    var connection: DaemonConnection?
    var tally = WorkerTally()
    private var wrongDue = false
    private var checks = 0
    private static let origin = LoginOrigin(service: "twofactor-bench", remoteHost: "")

    init(mode: BenchMode, socketPath: String) {
        self.mode = mode
        self.socketPath = socketPath
    }

    mutating func run(_ accounts: inout [BenchAccount], until end: UInt64, limit: Int?) {
        guard !accounts.isEmpty else { return }
        var cursor = 0
        while BenchClock.nanoseconds() < end, limit.map({ tally.requests < $0 }) ?? true {
            // The next account with a step it has not used yet: the current one, or the next one,
            // which the daemon's window of one step also accepts.
            let now = BenchClock.unixSeconds()
            var chosen: (index: Int, step: UInt64, code: String)?
            for probe in 0..<accounts.count {
                let index = (cursor + probe) % accounts.count
                let current = accounts[index].totp.step(at: now)
                let step = max(accounts[index].lastStep + 1, current)
                guard step <= current + 1 else { continue }
                guard let code = accounts[index].code(ofFreshStep: step) else {
                    accounts[index].lastStep = step
                    tally.repeatedCodesSkipped += 1
                    continue
                }
                chosen = (index, step, code)
                break
            }
            guard let (index, step, code) = chosen else {
                let before = BenchClock.nanoseconds()
                BenchClock.sleepToNextSecond(orUntil: end)
                tally.accountWaitSeconds += Double(BenchClock.nanoseconds() - before) / 1e9
                continue
            }
            cursor = index + 1
            check(&accounts[index], step: step, code: code, chosenAt: now)
        }
    }

    private mutating func check(_ account: inout BenchAccount, step: UInt64, code: String, chosenAt: Int64) {
        // Every tenth check is due to be wrong; it waits for an account with no failure pending.
        checks += 1
        if mode == .mixed, checks % 10 == 0 { wrongDue = true }
        if wrongDue, account.failures == 0 {
            // Only an account with no failure pending gets a wrong code, so no account ever nears its lock.
            wrongDue = false
            tally.wrongSent += 1
            let outcome = send(account, code: wrongCode(account.totp, near: step))
            if outcome == .denied { tally.wrongDenied += 1 } else { countBad(outcome) }
            account.failures += 1
            return
        }
        tally.validSent += 1
        let previousStep = account.lastStep
        let outcome = send(account, code: code)
        account.lastStep = step
        guard outcome == .ok else {
            if let outcome {
                tally.validRefused += 1
                tally.firstError =
                    tally.firstError
                    ?? Self.refusal(of: code, step: step, for: account, previousStep: previousStep, chosenAt: chosenAt)
                    + " was answered \(outcome)"
            }
            account.failures += 1
            return
        }
        tally.validAccepted += 1
        account.failures = 0
        guard mode == .replay else { return }
        tally.replaysSent += 1
        let replayed = send(account, code: code)
        if replayed == .denied { tally.replaysDenied += 1 } else { countBad(replayed) }
        account.failures += 1
    }

    /// Describes a fresh code that was refused with what could explain it: the clock seconds when the code was
    /// chosen and when it was answered (the daemon's window is one step either side of its own clock), the
    /// account's step before it, and the neighbouring steps that share the code (the daemon matches the
    /// earliest step of its window that has the code, so a code shared with a step already used is a replay).
    private static func refusal(
        of code: String,
        step: UInt64,
        for account: BenchAccount,
        previousStep: UInt64,
        chosenAt: Int64
    ) -> String {
        let answeredAt = BenchClock.unixSeconds()
        let low = step >= 2 ? step - 2 : 0
        let sharing = (low...step + 2).filter { $0 != step && account.totp.code(forStep: $0) == code }
        return "a fresh code for \(account.name) (step \(step), chosen at \(chosenAt), answered at \(answeredAt), "
            + "previous step \(previousStep), the same code at steps \(sharing.isEmpty ? "none" : "\(sharing)") nearby)"
    }

    /// A wrong or replayed code that was not denied; nil (an error) is already counted as one.
    private mutating func countBad(_ outcome: LoginOutcome?) {
        guard let outcome else { return }
        tally.badNotDenied += 1
        if outcome == .ok { tally.badAccepted += 1 }
    }

    /// Sends one check and returns its outcome, or nil after an error (counted, with a fresh connection).
    private mutating func send(_ account: BenchAccount, code: String) -> LoginOutcome? {
        let request: Request =
            mode == .login
            ? .login(user: account.name, password: account.password, codeKind: .totp, code: code)
            : .codeCheck(user: account.name, codeKind: .totp, code: code, origin: Self.origin)
        tally.requests += 1
        do {
            if connection == nil { connection = try DaemonConnection(socketPath: socketPath, timeoutSeconds: 30) }
            let before = BenchClock.nanoseconds()
            let answer = try connection!.send(request)
            tally.latencies.record(nanoseconds: BenchClock.nanoseconds() - before)
            if case .loginResult(let outcome, _, _) = answer { return outcome }
            tally.errorResponses += 1
            tally.firstError = tally.firstError ?? describe(answer)
            return nil
        } catch {
            tally.transportErrors += 1
            tally.firstError = tally.firstError ?? "\(error)"
            connection = nil
            return nil
        }
    }
}

/// A code of the right shape that matches no step the daemon could accept now.
private func wrongCode(_ totp: TOTP, near step: UInt64) -> String {
    let nearby = Set((step > 2 ? step - 2 : 0)...(step + 2)).map { totp.code(forStep: $0) }
    var candidate = Int(totp.code(forStep: step))! + 500_001
    while true {
        let digits = totp.parameters.digits
        var modulus = 1
        for _ in 0..<digits { modulus *= 10 }
        candidate %= modulus
        var text = String(candidate)
        while text.count < digits { text = "0" + text }
        if !nearby.contains(text) { return text }
        candidate += 1
    }
}
