import AccountStore
import LMDB
import LMDBAccountStore
import OneTimePassword
import Testing
import TestSupport

func accountName(_ text: String) -> AccountName { try! AccountName(text) }

/// The credential every account of `makeAccount` has enrolled.
let enrolledCredential = TOTPCredential(secret: Array(1...20), parameters: .standard)

func makeAccount(_ name: String, organization: String = "default", at time: UnixTime = 1_000) -> Account {
    Account(
        name: accountName(name),
        organization: try! OrganizationName(organization),
        passwordHash: "$scrypt$ln=17,r=8,p=1$salt$hash-of-\(name)",
        twoFactor: .on(.self),
        totp: enrolledCredential,
        createdAt: time,
        updatedAt: time
    )
}

/// The claim of a login that passed without a code, decided on `makeAccount(name)` as it was made.
func passedClaim(_ name: AccountName) -> AttemptClaim {
    let account = makeAccount(name.value)
    return .passed(name, passwordHash: account.passwordHash, twoFactor: account.twoFactor)
}

extension LMDBAccountStore {
    /// Adds organizations so that accounts of them can be created.
    func addOrganizations(_ names: String...) throws {
        for name in names {
            try createOrganization(Organization(name: try OrganizationName(name), createdAt: 1, updatedAt: 1))
        }
    }
}

/// A store in a fresh temporary directory, kept alive (and the directory with it) by the value.
struct StoreFixture {
    let directory = TemporaryDirectory()
    var path: String { directory.path + "/state" }

    /// Opens the store; release it before opening it again, since LMDB allows one handle per process.
    func open(initialMapSize: Int = 1 << 20) throws -> LMDBAccountStore {
        try LMDBAccountStore(directory: path, initialMapSize: initialMapSize)
    }

    /// Runs `body` in a write transaction on the store's files through the LMDB layer, bypassing the store.
    /// The store must be closed.
    func withRawWrite(_ body: (borrowing Transaction) throws -> Void) throws {
        let environment = try Environment(path: path, mapSize: 1 << 20, maxDatabases: 8)
        let transaction = try environment.beginTransaction()
        try body(transaction)
        try transaction.commit()
    }
}

/// Evaluates `body` and returns the `AccountStoreError` it threw, recording an issue if it threw nothing.
func storeError<R>(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) -> AccountStoreError? {
    do {
        _ = try body()
        Issue.record("expected an AccountStoreError", sourceLocation: sourceLocation)
        return nil
    } catch let error as AccountStoreError {
        return error
    } catch let error as any StoreErrorCarrying {
        guard let carried = error.storeError else {
            Issue.record("expected an AccountStoreError, got the body's \(error)", sourceLocation: sourceLocation)
            return nil
        }
        return carried
    } catch {
        Issue.record("expected an AccountStoreError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// An `UpdateError` of whatever rejection type a test's body has.
protocol StoreErrorCarrying: Error {
    /// The store's error, or nil when the body refused.
    var storeError: AccountStoreError? { get }
}

extension UpdateError: StoreErrorCarrying {
    var storeError: AccountStoreError? {
        guard case .store(let error) = self else { return nil }
        return error
    }
}

extension AccountStore {
    /// The replay guard for the first authenticator (the one `2fa enroll` made), with no drift: what
    /// every store test before several authenticators used.
    func recordAcceptedStep(
        _ step: UInt64,
        for name: AccountName,
        credential: TOTPCredential,
        at time: UnixTime
    ) throws(AccountStoreError) -> StepAcceptance {
        try recordAcceptedStep(step, for: name, authenticator: .enrolled, credential: credential, drift: 0, at: time)
    }
}
