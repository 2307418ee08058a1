import AccountStore
import Logging
import PostgresNIO
import StoredRecords

/// The account store on PostgreSQL, for fleets: every twofactord of a fleet opens the same database, so
/// they share accounts, organizations, throttle counters, the audit trail and, above all, the replay guard
/// (a code accepted through one host is refused through every other). Tables: see Migrations.swift.
///
/// Accounts are stored as `AccountRecord` bytes with their secrets sealed under `SecretsKey`, exactly as
/// on LMDB, so a copy of the database reveals no secret without the key file, and new `Account` fields
/// reach PostgreSQL without a migration. The semantics are LMDB's, checked by the same conformance suite.
///
/// Blocking, like the protocol: call it from worker threads, never an event loop (see ConnectionPool).
public final class PostgresAccountStore: AccountStore, Sendable {
    let location: PostgresLocation
    let secretsKey: SecretsKey
    let auditRetention: AuditRetention
    let pool: ConnectionPool
    /// What a login reads for a name without an account (PostgresAccountStore+LoginStandIn.swift).
    let loginStandIn: SealedStandIn
    let counters = TransactionCounters()

    /// Connects, applies the migrations this database lacks (refusing a newer schema) and checks the
    /// secrets key, so that a store that opens is ready to serve.
    ///
    /// - Parameters:
    ///   - password: The database password, from `PostgresPassword.load`; nil for trust or peer login.
    ///   - readOnly: For `--check`: apply no migration and write nothing. A database without the schema this
    ///     build writes is refused, saying what a daemon would do with it; the connections are read-only, so
    ///     every write through the store fails.
    public init(
        location: PostgresLocation,
        password: String?,
        secretsKey: SecretsKey,
        auditRetention: AuditRetention = .standard,
        readOnly: Bool = false,
        logger: Logger = Logger(label: "twofactord.postgres")
    ) throws(AccountStoreError) {
        self.location = location
        self.secretsKey = secretsKey
        self.auditRetention = auditRetention
        loginStandIn = try SealedStandIn(sealedWith: secretsKey)
        pool = try ConnectionPool(location: location, password: password, readOnly: readOnly, logger: logger)
        if readOnly {
            try Migrations.inspect(self)
        } else {
            try Migrations.apply(to: self)
        }
    }

    /// The schema version this build writes.
    public static var schemaVersion: Int { Migrations.latest }

    /// The schema version of the database.
    public func databaseSchemaVersion() throws(AccountStoreError) -> Int { try Migrations.version(of: self) }

    /// Every host of a fleet holds the same secrets key (the database's key check refuses another), so every
    /// host derives the same key.
    public func derivedKey(label: String) -> [UInt8] {
        secretsKey.derivedKey(label: label)
    }

    /// How many account rows the store's transactions read `FOR UPDATE` since it was opened, for tests: what a
    /// write read.
    public var accountRowsLocked: Int { counters.accountRowsLocked.load(ordering: .relaxed) }
    /// How many statements this store sent, for tests that count round trips.
    public var statementsSent: Int { counters.statements.load(ordering: .relaxed) }
    /// How often the server broke a deadlock by failing one of this store's transactions (which then ran
    /// again), for tests: with every transaction taking its locks in one order (Transactions.swift), never.
    public var deadlocksRetried: Int { counters.deadlocks.load(ordering: .relaxed) }

    /// Closes the idle connections; the store must not be used afterwards.
    public func close() { pool.close() }

    // MARK: Accounts

    public func account(named name: AccountName) throws(AccountStoreError) -> Account? {
        try account(named: name, trimmed: { $0 })
    }

    public func accountExists(named name: AccountName) throws(AccountStoreError) -> Bool {
        try read { transaction in
            try !transaction.rows("SELECT 1 FROM accounts WHERE name = \(name.value)").isEmpty
        }
    }

    public func accountForCodeCheck(named name: AccountName) throws(AccountStoreError) -> Account? {
        try account(named: name, trimmed: \.forCodeCheck)
    }

    public func accountForCodeCheckWithOrganization(
        named name: AccountName
    ) throws(AccountStoreError) -> (account: Account, organization: Organization?)? {
        let sealed = try read { transaction in
            try transaction.rows(
                """
                SELECT a.record, o.record FROM accounts a LEFT JOIN organizations o ON o.name = a.organization
                WHERE a.name = \(name.value)
                """
            ).first.map { row in
                let (accountRecord, organizationRecord) = try row.decode((ByteBuffer, ByteBuffer?).self)
                let account = try Self.decode(accountRecord.bytes, name: name.value)
                let organization = try organizationRecord.map { (record) throws(AccountStoreError) in
                    try Self.decodeOrganization(record.bytes, name: account.organization.value)
                }
                return (account, organization)
            }
        }
        return try sealed.map { (account, organization) throws(AccountStoreError) in
            (try opened(account.forCodeCheck), organization)
        }
    }

    /// The record of `name`, decoded, given to `trim`, then opened: only the secrets `trim` keeps are opened.
    func account(
        named name: AccountName,
        trimmed trim: (Account) -> Account
    ) throws(AccountStoreError) -> Account? {
        let sealed = try read { transaction in
            try transaction.rows("SELECT record FROM accounts WHERE name = \(name.value)").first.map {
                try Self.decode($0, name: name.value)
            }
        }
        return try sealed.map { (account) throws(AccountStoreError) in try opened(trim(account)) }
    }

    public func accounts(
        in organization: OrganizationName?,
        after: AccountName?,
        limit: Int
    ) throws(AccountStoreError) -> [Account] {
        guard limit > 0 else { return [] }
        let start = after?.value ?? ""
        let sealed = try read { transaction in
            let rows =
                if let organization {
                    try transaction.rows(
                        """
                        SELECT name, record FROM accounts WHERE organization = \(organization.value) AND name > \(start)
                        ORDER BY name LIMIT \(Int64(limit))
                        """
                    )
                } else {
                    try transaction.rows(
                        "SELECT name, record FROM accounts WHERE name > \(start) ORDER BY name LIMIT \(Int64(limit))"
                    )
                }
            return try rows.map { row in
                let (name, record) = try row.decode((String, ByteBuffer).self)
                return try Self.decode(record.bytes, name: name)
            }
        }
        var result: [Account] = []
        for account in sealed { result.append(try opened(account)) }
        return result
    }

    /// The organization's row is locked `FOR SHARE` (first, in the lock order): a change of it waits for this
    /// write or is seen by it, and no removal of it commits before the account is in. A refusal rolls the
    /// transaction back.
    @discardableResult
    public func create<Rejection: Error>(
        _ account: Account,
        checkingOrganization body: (inout Account, Organization) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        let outcome: Result<Account, Rejection>
        do throws(AccountStoreError) {
            outcome = try write { (transaction: Transaction) throws -> Result<Account, Rejection> in
                let name = account.organization.value
                // An admin's creation locks the organization's row exclusively, so two of them run one after the
                // other, and the second reads the first's account (read committed: each statement sees what
                // committed before it).
                let lock = account.role == .admin ? "FOR UPDATE" : "FOR SHARE"
                guard
                    let organization = try transaction.rows(
                        "SELECT record FROM organizations WHERE name = \(name) \(unescaped: lock)"
                    ).first.map({ try Self.decodeOrganization(try $0.decode(ByteBuffer.self).bytes, name: name) })
                else { throw AccountStoreError.organizationNotFound(account.organization) }
                var checked = account
                do throws(Rejection) {
                    try body(&checked, organization)
                } catch {
                    transaction.rollbackOnly = true
                    return .failure(error)
                }
                guard checked.name == account.name, checked.organization == account.organization,
                    checked.role == account.role
                else {
                    throw AccountStoreError.invalidChange("a new account's check cannot rename, move or promote it")
                }
                if checked.role == .admin {
                    let members = try transaction.rows(
                        "SELECT name, record FROM accounts WHERE organization = \(name) ORDER BY name"
                    )
                    for member in members {
                        let (memberName, record) = try member.decode((String, ByteBuffer).self)
                        let decoded = try Self.decode(record.bytes, name: memberName)
                        if decoded.role == .admin {
                            throw AccountStoreError.organizationHasAdmin(account.organization, admin: decoded.name)
                        }
                    }
                }
                let record = try sealedRecord(checked)
                let inserted = try transaction.rows(
                    """
                    INSERT INTO accounts (name, organization, record)
                    VALUES (\(checked.name.value), \(name), \(record.buffer))
                    ON CONFLICT (name) DO NOTHING RETURNING name
                    """
                )
                guard !inserted.isEmpty else { throw AccountStoreError.alreadyExists(checked.name) }
                return .success(checked)
            }
        } catch {
            throw .store(error)
        }
        return try UpdateError.unwrap(outcome)
    }

    /// `body` runs inside the transaction, with the account's row locked; it may run more than once when
    /// the transaction collides with another daemon's, so it must not have effects outside the account.
    /// A refusal rolls the transaction back. With `withOrganization`, the organization's row is locked `FOR
    /// SHARE` before the account's, in the order `updateOrganization` locks them (the organization, then its
    /// members), so that a change of it waits for this write or is seen by it, and the two never deadlock.
    public func update<Rejection: Error>(
        _ name: AccountName,
        withOrganization: Bool,
        _ body: (inout Account, Organization?) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        let outcome: Result<Account, Rejection>
        do throws(AccountStoreError) {
            outcome = try write { (transaction: Transaction) throws -> Result<Account, Rejection> in
                var organization: Organization? = nil
                if withOrganization {
                    let member = try transaction.rows("SELECT organization FROM accounts WHERE name = \(name.value)")
                    if let row = member.first {
                        let organizationName = try row.decode(String.self)
                        organization = try transaction.rows(
                            "SELECT record FROM organizations WHERE name = \(organizationName) FOR SHARE"
                        ).first.map {
                            try Self.decodeOrganization(try $0.decode(ByteBuffer.self).bytes, name: organizationName)
                        }
                    }
                }
                let before = try opened(try Self.lock(name, in: transaction))
                var account = before
                // Moved to another organization between the two reads: that one's rules, locked the same way.
                if withOrganization, organization.map({ $0.name != before.organization }) ?? true {
                    organization = try transaction.rows(
                        "SELECT record FROM organizations WHERE name = \(before.organization.value) FOR SHARE"
                    ).first.map {
                        try Self.decodeOrganization(
                            try $0.decode(ByteBuffer.self).bytes,
                            name: before.organization.value
                        )
                    }
                }
                do throws(Rejection) {
                    try body(&account, organization)
                } catch {
                    transaction.rollbackOnly = true
                    return .failure(error)
                }
                guard account.name == name else {
                    throw AccountStoreError.invalidChange("an account cannot be renamed")
                }
                if account.organization != before.organization {
                    let organization = try transaction.rows(
                        "SELECT 1 FROM organizations WHERE name = \(account.organization.value) FOR KEY SHARE"
                    )
                    guard !organization.isEmpty else {
                        throw AccountStoreError.organizationNotFound(account.organization)
                    }
                }
                try Self.store(try sealedRecord(account), of: account, in: transaction)
                return .success(account)
            }
        } catch {
            throw .store(error)
        }
        return try UpdateError.unwrap(outcome)
    }

    public func remove(_ name: AccountName, ifStill identity: AccountIdentity?) throws(AccountStoreError) {
        try write { transaction in
            if let identity, try Self.lock(name, in: transaction).identity != identity {
                throw AccountStoreError.notFound(name)
            }
            let removed = try transaction.rows("DELETE FROM accounts WHERE name = \(name.value) RETURNING name")
            guard !removed.isEmpty else { throw AccountStoreError.notFound(name) }
        }
    }

    public func recordAcceptedStep(
        _ step: UInt64,
        for name: AccountName,
        authenticator label: AuthenticatorLabel,
        credential: TOTPCredential,
        drift: Int32,
        offset: Int32?,
        at time: UnixTime,
        alongside: AcceptedStepChange?
    ) throws(AccountStoreError) -> StepAcceptance {
        let claim = StepClaim(step: step, authenticator: label, credential: credential, drift: drift, offset: offset)
        return try write { transaction in
            let acceptance = try acceptStep(claim, for: name, at: time, alongside: alongside, in: transaction)
            if acceptance != .accepted { transaction.rollbackOnly = true }
            return acceptance
        }
    }

    /// The replay guard inside a transaction (`Account.acceptStep` is the rule, as on LMDB). The row lock
    /// makes a second daemon with the same code wait here, then read this step and refuse.
    func acceptStep(
        _ claim: StepClaim,
        for name: AccountName,
        at time: UnixTime,
        alongside: AcceptedStepChange?,
        in transaction: Transaction
    ) throws -> StepAcceptance {
        try acceptStep(claim, on: Self.lock(name, in: transaction), at: time, alongside: alongside, in: transaction)
            .acceptance
    }

    /// `acceptStep` on an account whose row this transaction holds (`lock`), as it was read; returns the
    /// account as it is stored afterwards.
    func acceptStep(
        _ claim: StepClaim,
        on locked: Account,
        at time: UnixTime,
        alongside: AcceptedStepChange?,
        in transaction: Transaction
    ) throws -> (acceptance: StepAcceptance, account: Account) {
        var account = locked
        let acceptance = try account.acceptSealed(claim, at: time) { (sealed) throws(AccountStoreError) in
            try opened(sealed, of: locked.name, authenticator: claim.authenticator)
        }
        guard acceptance == .accepted else { return (.replayed, locked) }
        if let alongside {
            // The organization as committed now, read without a lock (none is taken out of the lock order): an
            // organization change committed before is seen; one still running has yet to lock this account, and
            // its pass over the members (`AccountService.setOrganizationAccess`) sees what this write leaves.
            let name = account.organization.value
            let organization = try transaction.rows("SELECT record FROM organizations WHERE name = \(name)").first
                .map { try Self.decodeOrganization(try $0.decode(ByteBuffer.self).bytes, name: name) }
            alongside(&account, organization)
        }
        try Self.store(AccountRecord.encode(account), of: account, in: transaction)
        return (.accepted, account)
    }

    /// A login's writes in one transaction, so a fleet pays one commit per login: the step or the success,
    /// the throttle key cleared and the audit record appended. In the lock order (Transactions.swift): the key's
    /// throttle row goes first (a replayed step rolls its deletion back), then the account, which the clear of a
    /// privileged origin's account-wide count then takes as it holds it.
    public func recordLogin(
        of name: AccountName,
        claiming claim: StepClaim?,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        clearing key: ThrottleKey?,
        audit: AuditRecord?
    ) throws(AccountStoreError) -> StepAcceptance {
        try write { transaction in
            if let key { try deleteThrottleRow(of: key, in: transaction) }
            let locked = try Self.lock(name, in: transaction)
            let stored: Account
            if let claim {
                let (acceptance, account) = try acceptStep(
                    claim,
                    on: locked,
                    at: time,
                    alongside: alongside,
                    in: transaction
                )
                guard acceptance == .accepted else {
                    transaction.rollbackOnly = true
                    return acceptance
                }
                stored = account
            } else {
                stored = try markSuccess(on: locked, at: time, in: transaction)
            }
            if let key { try clearAccountWide(of: key, holding: stored, in: transaction) }
            if let audit { try append(audit, in: transaction) }
            return .accepted
        }
    }

    public func recordSuccess(for name: AccountName, at time: UnixTime) throws(AccountStoreError) {
        try write { transaction in try markSuccess(of: name, at: time, in: transaction) }
    }

    func markSuccess(of name: AccountName, at time: UnixTime, in transaction: Transaction) throws {
        try markSuccess(on: Self.lock(name, in: transaction), at: time, in: transaction)
    }

    /// `markSuccess` on an account whose row this transaction holds, as it was read; returns it as stored.
    @discardableResult
    func markSuccess(on locked: Account, at time: UnixTime, in transaction: Transaction) throws -> Account {
        var account = locked
        account.failureCount = 0
        account.lastLoginAt = time
        account.updatedAt = time
        try Self.store(AccountRecord.encode(account), of: account, in: transaction)
        return account
    }

    // MARK: Records

    /// The account's row, locked until the transaction ends, decoded with its secrets still sealed.
    static func lock(_ name: AccountName, in transaction: Transaction) throws -> Account {
        guard let account = try lockIfExists(name, in: transaction) else { throw AccountStoreError.notFound(name) }
        return account
    }

    /// `lock`, or nil when there is no such account.
    static func lockIfExists(_ name: AccountName, in transaction: Transaction) throws -> Account? {
        transaction.counters.accountRowsLocked.add(1, ordering: .relaxed)
        let rows = try transaction.rows("SELECT record FROM accounts WHERE name = \(name.value) FOR UPDATE")
        return try rows.first.map { try decode($0, name: name.value) }
    }

    /// Writes an account's record (already sealed) and its organization column.
    static func store(_ record: [UInt8], of account: Account, in transaction: Transaction) throws {
        try transaction.execute(
            """
            UPDATE accounts SET record = \(record.buffer), organization = \(account.organization.value)
            WHERE name = \(account.name.value)
            """
        )
    }

    static func decode(_ row: PostgresRow, name: String) throws -> Account {
        try decode(try row.decode(ByteBuffer.self).bytes, name: name)
    }

    /// Decodes a record, checking that it is stored under its own name; its secrets stay sealed.
    static func decode(_ bytes: [UInt8], name: String) throws(AccountStoreError) -> Account {
        guard let account = try? AccountRecord.decode(bytes), account.name.value == name else {
            throw .corruptRecord(key: "accounts/" + name)
        }
        return account
    }

    func sealedRecord(_ account: Account) throws(AccountStoreError) -> [UInt8] {
        AccountRecord.encode(try SecretSealing.sealed(account, with: secretsKey))
    }

    func opened(_ account: Account) throws(AccountStoreError) -> Account {
        guard let opened = SecretSealing.unsealed(account, with: secretsKey) else {
            throw .corruptRecord(key: "accounts/" + account.name.value)
        }
        return opened
    }

    func opened(
        _ credential: TOTPCredential,
        of name: AccountName,
        authenticator label: AuthenticatorLabel
    ) throws(AccountStoreError) -> TOTPCredential {
        guard let opened = SecretSealing.opened(credential, of: name, authenticator: label, with: secretsKey) else {
            throw .corruptRecord(key: "accounts/" + name.value)
        }
        return opened
    }
}
