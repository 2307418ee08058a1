import AccountService
import AccountStore
import Authentication
import Foundation
import LMDBAccountStore
import Logging
import OneTimePassword
import PasswordHashing
import Synchronization
import TestSupport
import Testing

/// The caller of every administrative call in these tests, unless a test says otherwise.
let root = Caller.operator(uid: 0)

/// A clock the test moves by hand: no test waits for a TOTP window.
final class TestClock: Sendable {
    private let time: Mutex<UnixTime>
    init(_ start: UnixTime) { time = Mutex(start) }
    var now: UnixTime { time.withLock { $0 } }
    func advance(by seconds: Int64) { time.withLock { $0 += seconds } }
}

/// A service over a real LMDB store in a fresh temporary directory, with a cheap scrypt cost.
struct Fixture {
    let directory = TemporaryDirectory(prefix: "account-service-tests")
    let store: LMDBAccountStore
    let clock: TestClock
    let hasher: PasswordHasher
    let service: AccountService

    init(start: UnixTime = 1_900_000_000, cost: ScryptCost = ScryptCost(logN: 10, r: 8, p: 1)) throws {
        store = try LMDBAccountStore(directory: directory.path + "/state")
        clock = TestClock(start)
        let clock = self.clock
        hasher = PasswordHasher(cost: cost)
        service = AccountService(
            store: store,
            hasher: hasher,
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// Adds an account, by default an agent of the default organization.
    @discardableResult
    func add(
        _ name: String,
        password: String = "pass-phrase",
        requireTwoFactor: Bool = false,
        organization: String? = nil,
        role: Role = .agent
    ) throws -> Account {
        try service.addAccount(
            caller: root,
            name: name,
            organization: organization,
            role: role,
            requireTwoFactor: requireTwoFactor,
            password: Array(password.utf8)
        )
    }

    /// Adds organizations that do not require 2FA.
    func addOrganizations(_ names: String...) throws {
        for name in names { _ = try service.addOrganization(caller: root, name: name, requireTwoFactor: false) }
    }

    func stored(_ name: String) throws -> Account? {
        try store.account(named: try AccountName(name))
    }

    /// Another service over the same store, with `hasher`: the daemon restarted with other scrypt settings.
    func service(hashingWith hasher: PasswordHasher) -> AccountService {
        let clock = self.clock
        return AccountService(
            store: store,
            hasher: hasher,
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// The account `name` as a caller (logged in on a connection).
    func caller(_ name: String) throws -> Caller {
        .account(try #require(try stored(name)))
    }

    /// The sequence of the newest audit record, 0 before any.
    func newestAuditSequence() throws -> UInt64 {
        try store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first?.sequence ?? 0
    }

    /// The audit records appended after `sequence`, newest first.
    func auditRecords(after sequence: UInt64) throws -> [AuditRecord] {
        try store.auditRecords(matching: AuditFilter(), before: nil, limit: 10_000).filter { $0.sequence > sequence }
    }

    /// Adds `name` and enrolls it; returns its secret. The confirming code's step is the clock's.
    func enrolled(_ name: String, password: String = "pass-phrase") throws -> [UInt8] {
        try add(name, password: password)
        let offer = try service.beginEnrollment(caller: root, name: name, parameters: .standard)
        let uri = try OTPAuthURI(parsing: offer.otpauthURI)
        try service.confirmEnrollment(caller: root, name: name, code: try oathtool(uri.secret, at: clock.now))
        return uri.secret
    }
}

extension Fixture {
    /// A service over this fixture's store whose clock, the first time it is read while `when` holds, first runs
    /// `race` (through `self.service`, whose clock runs nothing). It hashes with `hasher` when given (the daemon
    /// restarted with other scrypt settings), else with the fixture's.
    func racing(
        hashingWith hasher: PasswordHasher? = nil,
        when: @escaping @Sendable () -> Bool,
        _ race: @escaping @Sendable () throws -> Void
    ) -> AccountService {
        let clock = self.clock
        let ran = Mutex(false)
        return AccountService(
            store: store,
            hasher: hasher ?? self.hasher,
            clock: {
                if when(), !ran.withLock({ $0 }) {
                    ran.withLock { $0 = true }
                    do { try race() } catch { Issue.record("the racing change failed: \(error)") }
                }
                return clock.now
            },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }
}

/// The TOTP code from oathtool(1), an implementation independent of ours.
func oathtool(
    _ secret: [UInt8],
    at time: Int64,
    period: Int = 30,
    digits: Int = 6,
    algorithm: String = "sha1"
) throws -> String {
    try OathTool.code(secret: secret, at: time, period: period, digits: digits, algorithm: algorithm)
}

/// What a request answered: "done", or the refusal's kind and message.
func answer(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "done"
    } catch let error as ServiceError {
        return "\(error.kind): \(error.message)"
    } catch {
        return "\(error)"
    }
}

extension AccountService {
    /// Up to `limit` records of the trail the caller may read, newest first, following `auditPage`'s pages.
    func auditTrail(
        caller: Caller,
        account: String?,
        organization: String?,
        since: UnixTime?,
        before: UInt64?,
        limit: Int
    ) throws(ServiceError) -> [AuditRecord] {
        var records: [AuditRecord] = []
        var before = before
        while records.count < limit {
            let page = try auditPage(
                caller: caller,
                account: account,
                organization: organization,
                since: since,
                before: before,
                limit: limit - records.count
            )
            records += page.records
            guard page.next != 0 else { break }
            before = page.next
        }
        return records
    }
}
