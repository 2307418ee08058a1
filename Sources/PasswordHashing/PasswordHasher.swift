import OpenSSLCrypto

// MUSTs of password hashing:
// - every hash gets a fresh 16-byte salt from the CSPRNG;
// - a verify compares in constant time and costs what the stored parameters say;
// - an unknown user costs one verify at the cost of the stored hashes (`unknownUserCost`), like a known one;
// - no error or description contains a password or a hash.

/// Why a stored hash could not be used.
public enum PasswordHashError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case unsupportedAlgorithm
    case cryptoFailure(String)

    public var description: String {
        switch self {
        case .malformed(let reason): "the stored password hash is malformed (\(reason)): set a new password"
        case .unsupportedAlgorithm: "the stored password hash is not an scrypt hash: set a new password"
        case .cryptoFailure(let reason): "password hashing failed: \(reason)"
        }
    }
}

/// Hashes and verifies passwords with scrypt through OpenSSL, stored as PHC strings.
public struct PasswordHasher: Sendable {
    public let cost: ScryptCost
    /// Shared by copies of this hasher: the costs of the stored hashes it handled.
    private let storedCosts = StoredCostSample()
    /// Shared by copies of this hasher: how many scrypt derivations they ran.
    private let derivations = DerivationCounter()
    static let saltLength = 16
    static let hashLength = 32

    /// Shared by copies of this hasher: bounds how many derivations (each holding scrypt's memory) run at once.
    private let slots: HashSlots?

    /// - Parameter concurrentHashes: How many scrypt derivations may run at once across this hasher's copies
    ///   (the rest wait), which bounds the memory they hold; nil for no bound.
    public init(cost: ScryptCost = .owasp, concurrentHashes: Int? = nil) {
        self.cost = cost
        self.slots = concurrentHashes.map { HashSlots(max(1, $0)) }
    }

    public func hash(_ password: some Collection<UInt8>) throws(PasswordHashError) -> String {
        guard cost.isAcceptable else { throw .cryptoFailure("the configured cost \(cost) is out of range") }
        let salt = SecureRandom.bytes(count: Self.saltLength)
        let hash = try derive(password, salt: salt, cost: cost, length: Self.hashLength)
        return PHCString(cost: cost, salt: salt, hash: hash).text
    }

    /// Recomputes the hash with the parameters stored in `phc` and compares in constant time.
    public func verify(_ password: some Collection<UInt8>, against phc: String) throws(PasswordHashError) -> Bool {
        let stored = try PHCString(parsing: phc)
        let computed = try derive(password, salt: stored.salt, cost: stored.cost, length: stored.hash.count)
        return ConstantTime.equals(computed, stored.hash)
    }

    /// Whether `phc` was made with parameters other than `cost`: it is rehashed at the next
    /// successful login. An unreadable string needs rehashing too.
    public func needsRehash(_ phc: String) -> Bool {
        guard let stored = try? PHCString(parsing: phc) else { return true }
        return stored.cost != cost || stored.hash.count != Self.hashLength || stored.salt.count != Self.saltLength
    }

    /// The cost of the dummy verify for an unknown user: the most common cost among the stored hashes of the
    /// last accounts this hasher met (`seedStoredCosts`, `noteStoredHash`), or the configured cost before any.
    public var unknownUserCost: ScryptCost {
        storedCosts.mostCommon ?? cost
    }

    /// Learns the costs of hashes already in the store, once per process: call it with a sample of
    /// stored PHC strings, each with its owner (the account's name), before the first unknown-user verify.
    /// Later calls do not run `hashes`.
    public func seedStoredCosts(_ hashes: () -> [(owner: String, phc: String)]) {
        storedCosts.seedOnce {
            hashes().compactMap { owner, phc in (try? PHCString(parsing: phc)).map { (owner, $0.cost) } }
        }
    }

    /// Remembers the cost of `owner`'s stored hash, met by a login, for `unknownUserCost`: in place of what was
    /// remembered of `owner`, so that one account weighs one place however often it logs in.
    public func noteStoredHash(_ phc: String, of owner: String) {
        guard let stored = try? PHCString(parsing: phc) else { return }
        storedCosts.note(stored.cost, of: owner)
    }

    /// How many scrypt derivations this hasher and its copies ran (hash, verify and unknown-user verify alike),
    /// so tests and benchmarks can count what a login costs.
    public var derivationCount: Int {
        derivations.value
    }

    /// Does the work of one `verify` at `unknownUserCost` and returns false: what an unknown user costs.
    public func verifyUnknownUser(_ password: some Collection<UInt8>) -> Bool {
        let salt = [UInt8](repeating: 0x5A, count: Self.saltLength)
        let cost = unknownUserCost
        let computed = (try? derive(password, salt: salt, cost: cost, length: Self.hashLength)) ?? []
        let reference = [UInt8](repeating: 0, count: Self.hashLength)
        return ConstantTime.equals(computed, reference) && false
    }

    private func derive(
        _ password: some Collection<UInt8>,
        salt: [UInt8],
        cost: ScryptCost,
        length: Int
    ) throws(PasswordHashError) -> [UInt8] {
        derivations.increment()
        slots?.acquire()
        defer { slots?.release() }
        do {
            return try Scrypt.deriveKey(
                password: password,
                salt: salt,
                logN: cost.logN,
                r: cost.r,
                p: cost.p,
                length: length
            )
        } catch {
            throw .cryptoFailure(error.description)
        }
    }
}
