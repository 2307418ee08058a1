import DaemonClient
import OneTimePassword
import Wire

/// An account the benchmark created, with what it needs to log in: its password, its TOTP
/// generator, and the last time step the daemon accepted for it (a step is accepted once, and
/// never an earlier one afterwards, so the next valid code must be for a later step).
struct BenchAccount: Sendable {
    var name: String
    var password: [UInt8]
    var totp: TOTP
    var lastStep: UInt64
    /// Failures since the last success, as the daemon counts them for this (account, origin):
    /// the benchmark never lets this reach the daemon's lock threshold.
    var failures = 0

    /// The code of `step`, unless it is also the code of a step at most two before it that this account has
    /// used: the daemon takes a code for the earliest step of its window that has it, so it refuses such a
    /// code as a replay, rightly, and the benchmark does not send it (nil).
    func code(ofFreshStep step: UInt64) -> String? {
        let code = totp.code(forStep: step)
        let earliest = step >= 2 ? step - 2 : 0
        guard lastStep >= earliest else { return code }
        let repeated = (earliest..<step).contains { $0 <= lastStep && totp.code(forStep: $0) == code }
        return repeated ? nil : code
    }
}

/// Creates `count` accounts through the protocol, as an operator would with twofactorctl: UserAdd,
/// EnrollBegin at `period` seconds, then EnrollConfirm with a code computed here (the benchmark's own
/// TOTP is fine: it is a load generator, not a test vector). Spread over `connections` connections.
func createAccounts(
    count: Int,
    period: UInt16,
    prefix: String,
    socketPath: String,
    connections: Int
) throws(BenchError) -> [BenchAccount] {
    let results = onThreads(max(1, min(connections, count))) { worker -> Result<[BenchAccount], BenchError> in
        do throws(BenchError) {
            let connection: DaemonConnection
            do {
                connection = try DaemonConnection(socketPath: socketPath)
            } catch {
                throw BenchError("\(error)")
            }
            var made: [BenchAccount] = []
            for index in stride(from: worker, to: count, by: max(1, min(connections, count))) {
                made.append(try createAccount(index: index, period: period, prefix: prefix, on: connection))
            }
            return .success(made)
        } catch {
            return .failure(error)
        }
    }
    var accounts: [BenchAccount] = []
    for result in results {
        switch result {
        case .success(let made): accounts.append(contentsOf: made)
        case .failure(let error): throw error
        }
    }
    return accounts.sorted { $0.name < $1.name }
}

private func createAccount(
    index: Int,
    period: UInt16,
    prefix: String,
    on connection: DaemonConnection
) throws(BenchError) -> BenchAccount {
    let name = prefix + String(index)
    // A password unique to the run and the account, long enough for the password policy.
    let password = Array("bench \(prefix) pass \(index)".utf8)
    try expect(
        connection,
        .userAdd(user: name, organization: "", role: .agent, requireTwoFactor: false, password: password),
        "create \(name)"
    ) { $0 == .done }
    let begun = try ask(connection, .enrollBegin(user: name, algorithm: .sha1, digits: 6, period: period), name)
    guard case .enrollmentStarted(let uri, _) = begun else {
        throw BenchError(
            "enrolling \(name) was answered \(describe(begun)): "
                + "is the benchmark an operator (root or the daemon's user)?"
        )
    }
    let totp: TOTP
    do {
        let parsed = try OTPAuthURI(parsing: String(decoding: uri, as: UTF8.self))
        totp = try TOTP(secret: parsed.secret, parameters: parsed.parameters)
    } catch {
        throw BenchError("the daemon's otpauth URI for \(name) does not parse: \(error)")
    }
    let step = totp.step(at: BenchClock.unixSeconds())
    try expect(connection, .enrollConfirm(user: name, code: totp.code(forStep: step)), "confirm \(name)") {
        if case .recoveryCodes = $0 { true } else { false }
    }
    return BenchAccount(name: name, password: password, totp: totp, lastStep: step)
}

private func ask(_ connection: DaemonConnection, _ request: Request, _ what: String) throws(BenchError) -> Response {
    do {
        return try connection.send(request)
    } catch {
        throw BenchError("\(what): \(error)")
    }
}

private func expect(
    _ connection: DaemonConnection,
    _ request: Request,
    _ what: String,
    _ isExpected: (Response) -> Bool
) throws(BenchError) {
    let answer = try ask(connection, request, what)
    guard isExpected(answer) else { throw BenchError("\(what) was answered \(describe(answer))") }
}

/// A response in a few words, never with a secret (an otpauth URI or recovery codes are not shown).
func describe(_ response: Response) -> String {
    switch response {
    case .error(let code, let message): "error \(code): \(message)"
    case .loginResult(let outcome, _, _): "\(outcome)"
    default: "\(response.type)"
    }
}
