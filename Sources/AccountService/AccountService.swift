import AccountStore
import Authentication
import Logging
import OneTimePassword
import OpenSSLCrypto
import PasswordHashing

/// The operations of twofactord over an `AccountStore`: logins, and account administration.
///
/// Every method blocks (scrypt, durable writes): call it from a thread pool, never an event loop.
/// Who may call what is decided by the caller (the daemon's dispatch table), not here.
public final class AccountService: Sendable {
    let store: any AccountStore
    let hasher: PasswordHasher
    let configuration: ServiceConfiguration
    let clock: @Sendable () -> UnixTime
    let logger: Logger

    public init(
        store: any AccountStore,
        hasher: PasswordHasher,
        configuration: ServiceConfiguration = ServiceConfiguration(),
        clock: @escaping @Sendable () -> UnixTime,
        logger: Logger
    ) {
        self.store = store
        self.hasher = hasher
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    // MARK: Administration

    public func addAccount(
        name: String,
        organization: String?,
        role: Role,
        requireTwoFactor: Bool,
        password: [UInt8]
    ) throws(ServiceError) -> Account {
        let accountName = try validated { () throws(InvalidValue) in try AccountName(name) }
        let organizationName = try validated { () throws(InvalidValue) in
            guard let organization else { return OrganizationName.default }
            return try OrganizationName(organization)
        }
        try validatePassword(password, for: accountName)
        let now = clock()
        let account = Account(
            name: accountName,
            organization: organizationName,
            role: role,
            passwordHash: try hash(password),
            twoFactor: requireTwoFactor ? .pending : .off,
            createdAt: now,
            updatedAt: now
        )
        try storing { () throws(AccountStoreError) in try store.create(account) }
        logger.notice("account created", metadata: ["user": "\(accountName)", "org": "\(organizationName)"])
        return account
    }

    public func setPassword(name: String, password: [UInt8]) throws(ServiceError) {
        let accountName = try existingName(name)
        try validatePassword(password, for: accountName)
        let newHash = try hash(password)
        let now = clock()
        try storing { () throws(AccountStoreError) in
            try store.update(accountName) { account in
                account.passwordHash = newHash
                account.updatedAt = now
            }
        }
        logger.notice("password changed", metadata: ["user": "\(accountName)"])
    }

    public func account(named name: String) throws(ServiceError) -> Account {
        let accountName = try existingName(name)
        guard let account = try storing({ () throws(AccountStoreError) in try store.account(named: accountName) })
        else { throw ServiceError(.noSuchAccount, "no account named '\(accountName)'") }
        return account
    }

    /// One page of accounts in name order; `next` is where the following page starts, nil at the end.
    public func accounts(
        organization: String?,
        after: String?,
        limit: Int
    ) throws(ServiceError) -> (accounts: [Account], next: AccountName?) {
        let organizationName = try validated { () throws(InvalidValue) -> OrganizationName? in
            guard let organization else { return nil }
            return try OrganizationName(organization)
        }
        let start = try validated { () throws(InvalidValue) -> AccountName? in
            guard let after else { return nil }
            return try AccountName(after)
        }
        guard limit > 0 else { throw ServiceError(.invalidArgument, "the page size must be at least 1") }
        var page = try storing { () throws(AccountStoreError) in
            try store.accounts(in: organizationName, after: start, limit: limit + 1)
        }
        guard page.count > limit else { return (page, nil) }
        page.removeLast(page.count - limit)
        return (page, page.last?.name)
    }

    public func removeAccount(name: String) throws(ServiceError) {
        let accountName = try existingName(name)
        try storing { () throws(AccountStoreError) in try store.remove(accountName) }
        logger.notice("account removed", metadata: ["user": "\(accountName)"])
    }

    /// Draws a new secret and keeps it as the account's pending enrollment. The account's current
    /// two-factor state stands until `confirmEnrollment` succeeds.
    public func beginEnrollment(name: String, parameters: TOTPParameters) throws(ServiceError) -> EnrollmentOffer {
        let accountName = try existingName(name)
        let pending = try newEnrollment(for: accountName, parameters: parameters)
        try storing { () throws(AccountStoreError) in
            try store.update(accountName) { account in account.pendingEnrollment = pending }
        }
        logger.notice("enrollment started", metadata: ["user": "\(accountName)"])
        return EnrollmentOffer(otpauthURI: try uri(for: accountName, pending.credential), expiresAt: pending.expiresAt)
    }

    /// Turns 2FA on with the pending secret when `code` is right for it. The code's step becomes the
    /// last accepted one, so it cannot be used again to log in.
    public func confirmEnrollment(name: String, code: String) throws(ServiceError) {
        let accountName = try existingName(name)
        let now = clock()
        guard let pending = try account(named: name).pendingEnrollment, pending.expiresAt > now else {
            throw ServiceError(
                .noEnrollmentInProgress,
                "no enrollment is in progress for '\(accountName)' (or it expired): start one with `2fa enroll \(accountName)`"
            )
        }
        guard let step = matchingStep(code, for: pending.credential, now: now) else {
            throw ServiceError(.wrongCode, "the code is wrong: check the clock of the device and try the next code")
        }
        try storing { () throws(AccountStoreError) in
            try store.update(accountName) { account in
                try Self.finishEnrollment(&account, pending, step: step, now: now)
            }
        }
        logger.notice("two-factor enrolled", metadata: ["user": "\(accountName)"])
    }

    public func disableTwoFactor(name: String) throws(ServiceError) {
        let accountName = try existingName(name)
        let now = clock()
        try storing { () throws(AccountStoreError) in
            try store.update(accountName) { account in
                account.twoFactor = .off
                account.totp = nil
                account.pendingEnrollment = nil
                account.updatedAt = now
            }
        }
        logger.notice("two-factor disabled", metadata: ["user": "\(accountName)"])
    }

    // MARK: Shared steps

    /// Moves a pending enrollment into place. Runs inside the store's write transaction, so it
    /// re-checks what was read before: a concurrent change makes it refuse instead of overwrite.
    static func finishEnrollment(
        _ account: inout Account,
        _ pending: PendingEnrollment,
        step: UInt64,
        now: UnixTime
    ) throws {
        guard account.pendingEnrollment == pending else {
            throw ServiceError(.noEnrollmentInProgress, "the enrollment changed meanwhile: start again")
        }
        if let last = account.lastAcceptedStep, step <= last {
            throw ServiceError(.wrongCode, "that code was already used: wait for the next code")
        }
        let enabledBy: EnabledBy =
            switch account.twoFactor {
            case .pending: .enforced
            case .on(let by): by
            case .off: .self
            }
        account.twoFactor = .on(enabledBy)
        account.totp = pending.credential
        account.lastAcceptedStep = step
        account.pendingEnrollment = nil
        account.failureCount = 0
        account.lastFailureAt = nil
        account.updatedAt = now
    }

    func newEnrollment(for name: AccountName, parameters: TOTPParameters) throws(ServiceError) -> PendingEnrollment {
        guard (6...8).contains(parameters.digits) else {
            throw ServiceError(.invalidArgument, "digits must be 6, 7 or 8")
        }
        guard (1...3600).contains(parameters.period) else {
            throw ServiceError(.invalidArgument, "the period must be 1 to 3600 seconds")
        }
        // RFC 4226 section 4 asks for at least 128 bits and recommends 160; RFC 6238 keys match the hash size.
        let length =
            switch parameters.algorithm {
            case .sha1: 20
            case .sha256: 32
            case .sha512: 64
            }
        let credential = TOTPCredential(secret: SecureRandom.bytes(count: length), parameters: parameters)
        return PendingEnrollment(credential: credential, expiresAt: clock() + configuration.enrollmentLifetime)
    }

    func uri(for name: AccountName, _ credential: TOTPCredential) throws(ServiceError) -> String {
        OTPAuthURI(
            issuer: configuration.issuer,
            account: name.value,
            secret: credential.secret,
            parameters: credential.parameters
        ).uriString
    }

    func matchingStep(_ code: String, for credential: TOTPCredential, now: UnixTime) -> UInt64? {
        guard let totp = try? TOTP(secret: credential.secret, parameters: credential.parameters) else { return nil }
        return totp.matchingStep(for: code, at: now, window: configuration.codeWindow)
    }

    func hash(_ password: [UInt8]) throws(ServiceError) -> String {
        do {
            return try hasher.hash(password)
        } catch {
            logger.error("password hashing failed", metadata: ["error": "\(error)"])
            throw ServiceError(.internalError, "the password could not be hashed: see the daemon's log")
        }
    }

    /// Refuses a new password that `PasswordPolicy` rejects, saying why.
    func validatePassword(_ password: [UInt8], for account: AccountName? = nil) throws(ServiceError) {
        if let problem = PasswordPolicy.problem(with: password, account: account) {
            throw ServiceError(.invalidArgument, problem)
        }
    }

    func existingName(_ name: String) throws(ServiceError) -> AccountName {
        try validated { () throws(InvalidValue) in try AccountName(name) }
    }

    func validated<T>(_ body: () throws(InvalidValue) -> T) throws(ServiceError) -> T {
        do { return try body() } catch { throw ServiceError(.invalidArgument, error.description) }
    }

    @discardableResult
    func storing<T>(_ body: () throws(AccountStoreError) -> T) throws(ServiceError) -> T {
        do {
            return try body()
        } catch {
            let serviceError = ServiceError.from(error)
            if serviceError.kind == .storageFailure {
                logger.error("store failure", metadata: ["error": "\(error)"])
            }
            throw serviceError
        }
    }
}
