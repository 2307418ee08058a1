/// The account operations the daemon needs, and nothing else: the seam where a second backend
/// (PostgreSQL for fleets of hosts) plugs in without touching the daemon.
///
/// Every method is blocking and must not be called on an event loop. Every change happens in one
/// durable transaction: when a mutating method returns, the change survives a crash; when it
/// throws, nothing changed.
public protocol AccountStore: Sendable {
    /// The account called `name`, or nil.
    func account(named name: AccountName) throws(AccountStoreError) -> Account?

    /// Up to `limit` accounts in name order, starting after `after`, optionally of one organization.
    func accounts(
        in organization: OrganizationName?,
        after: AccountName?,
        limit: Int
    ) throws(AccountStoreError) -> [Account]

    /// Adds a new account. Throws `.alreadyExists` when the name is taken.
    func create(_ account: Account) throws(AccountStoreError)

    /// Reads the account, lets `body` change it, and writes it back, all in one write transaction.
    /// Throws `.notFound` for an unknown name. An error thrown by `body` aborts the transaction and
    /// is rethrown as `.rejected(error)`. The account's name must not be changed.
    @discardableResult
    func update(_ name: AccountName, _ body: (inout Account) throws -> Void) throws(AccountStoreError) -> Account

    /// Removes the account. Throws `.notFound` for an unknown name.
    func remove(_ name: AccountName) throws(AccountStoreError)

    /// The replay guard: in one write transaction, records `step` as the account's last accepted
    /// step if it is later than the one recorded, and resets the failure count. Returns `.replayed`
    /// and changes nothing when `step` is not later. When this returns `.accepted` the step is
    /// durable, so the caller may answer `ok`.
    func recordAcceptedStep(
        _ step: UInt64,
        for name: AccountName,
        at time: UnixTime
    ) throws(AccountStoreError) -> StepAcceptance

    /// Counts a failed login. `name` nil means an unknown user: the store still commits a write
    /// (a global counter), so that an unknown user costs what a known one does.
    @discardableResult
    func recordFailure(for name: AccountName?, at time: UnixTime) throws(AccountStoreError) -> UInt32

    /// Resets the failure count after a successful login that needed no code.
    func recordSuccess(for name: AccountName, at time: UnixTime) throws(AccountStoreError)
}

public enum StepAcceptance: Sendable, Equatable {
    case accepted
    case replayed
}

/// What went wrong in the store, with a message an operator can act on.
public enum AccountStoreError: Error, Sendable, CustomStringConvertible {
    case notFound(AccountName)
    case alreadyExists(AccountName)
    /// The state directory was written by a newer or unknown version of twofactord.
    case unsupportedSchemaVersion(found: UInt32, supported: UInt32)
    /// A record could not be decoded; the key says which.
    case corruptRecord(key: String)
    /// The storage layer failed (disk full, I/O error, permissions); `message` says which and what to do.
    case storageFailure(String)
    /// The `update` body refused the change; nothing was written.
    case rejected(any Error)

    public var description: String {
        switch self {
        case .notFound(let name): "no account named '\(name)'"
        case .alreadyExists(let name): "an account named '\(name)' already exists"
        case .unsupportedSchemaVersion(let found, let supported):
            "the state directory has schema version \(found), this twofactord supports \(supported): "
                + "run the twofactord that wrote it, or restore a backup"
        case .corruptRecord(let key): "the record '\(key)' is corrupt: restore the state directory from a backup"
        case .storageFailure(let message): message
        case .rejected(let error): "\(error)"
        }
    }
}
