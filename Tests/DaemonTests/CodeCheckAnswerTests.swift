import AccountService
import AccountStore
import LMDBAccountStore
import Logging
import NIOCore
import NIOPosix
import PasswordHashing
import Synchronization
import Testing
import TestSupport
import Wire

@testable import Daemon

/// A code check's answer is built where the connection logs it, on the event loop, once the check's write is
/// done: building it must not wait there for an operator lookup.
@Suite struct CodeCheckAnswerTests {
    @Test func aFailedCodeCheck_isAnsweredOnTheEventLoop_withTheOperatorsMessage() throws {
        let directory = TemporaryDirectory(prefix: "code-check-answer-tests")
        let store = BrokenCodeCheckStore(try LMDBAccountStore(directory: directory.path + "/state"))
        let service = AccountService(
            store: store,
            hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
            clock: { 1_900_000_000 },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let lookups = OperatorCache(daemonUID: 4_242, lookup: { $0.uid == 1_000 })
        var dispatcher = Dispatcher(
            service: service,
            operators: OperatorPolicy(groupName: "twofactord-no-such-group", daemonUID: 4_242)
        )
        dispatcher.operatorLookups = lookups
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answered = Mutex<EventLoopFuture<Response>?>(nil)
        dispatcher.handle(
            .codeCheck(user: "ann", codeKind: .totp, code: "000000", origin: LoginOrigin()),
            from: PeerCredentials(pid: 1, uid: 1_000, gid: 1_000),
            session: Session()
        ) { answer in
            // As ConnectionHandler does: the answer is built on the connection's event loop.
            let response = loop.submit { answer().response }
            answered.withLock { $0 = response }
        }
        for _ in 0..<10_000 where answered.withLock({ $0 == nil }) { usleep(1000) }
        let response = try #require(answered.withLock { $0 }).wait()
        #expect(
            response
                == .error(
                    code: .storageFailure,
                    message: "cannot read /var/lib/twofactord/data.mdb: Input/output error"
                ),
            "an operator is told the whole failure"
        )
    }
}

/// The LMDB store, except that reading an account for a code check fails, as on a broken disk.
final class BrokenCodeCheckStore: AccountStore, Sendable {
    let base: LMDBAccountStore

    init(_ base: LMDBAccountStore) {
        self.base = base
    }

    func reserveAttempt(
        _ key: ThrottleKey,
        at time: UnixTime,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try base.reserveAttempt(key, at: time, decide: decide)
    }

    func account(named name: AccountName) throws(AccountStoreError) -> Account? { try base.account(named: name) }
    func accountExists(named name: AccountName) throws(AccountStoreError) -> Bool {
        try base.accountExists(named: name)
    }
    func accountForCodeCheck(named name: AccountName) throws(AccountStoreError) -> Account? {
        throw .storageFailure("cannot read /var/lib/twofactord/data.mdb: Input/output error")
    }
    func accountForLogin(named name: AccountName) throws(AccountStoreError) -> Account? {
        try base.accountForLogin(named: name)
    }
    func readStandInForLogin() throws(AccountStoreError) { try base.readStandInForLogin() }
    func accounts(
        in organization: OrganizationName?,
        after: AccountName?,
        limit: Int
    ) throws(AccountStoreError) -> [Account] {
        try base.accounts(in: organization, after: after, limit: limit)
    }
    func create<Rejection: Error>(
        _ account: Account,
        checkingOrganization body: (inout Account, Organization) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        try base.create(account, checkingOrganization: body)
    }
    func update<Rejection: Error>(
        _ name: AccountName,
        withOrganization: Bool,
        _ body: (inout Account, Organization?) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        try base.update(name, withOrganization: withOrganization, body)
    }
    func remove(_ name: AccountName, ifStill identity: AccountIdentity?) throws(AccountStoreError) {
        try base.remove(name, ifStill: identity)
    }
    func recordAcceptedStep(
        _ step: UInt64,
        for name: AccountName,
        authenticator label: AuthenticatorLabel,
        credential: TOTPCredential,
        drift: Int32,
        offset: Int32?,
        at time: UnixTime,
        alongside: AcceptedStepChange?
    ) throws(AccountStoreError) -> StepAcceptance {
        try base.recordAcceptedStep(
            step,
            for: name,
            authenticator: label,
            credential: credential,
            drift: drift,
            offset: offset,
            at: time,
            alongside: alongside
        )
    }
    func recordSuccess(for name: AccountName, at time: UnixTime) throws(AccountStoreError) {
        try base.recordSuccess(for: name, at: time)
    }
    func recordLogin(
        of name: AccountName,
        claiming claim: StepClaim?,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        clearing key: ThrottleKey?,
        audit: AuditRecord?
    ) throws(AccountStoreError) -> StepAcceptance {
        try base.recordLogin(of: name, claiming: claim, alongside: alongside, at: time, clearing: key, audit: audit)
    }
    func previewAttempt(_ key: ThrottleKey, decide: ThrottleDecision) throws(AccountStoreError) -> AttemptReservation {
        try base.previewAttempt(key, decide: decide)
    }
    func checkAttempt(
        _ key: ThrottleKey,
        claiming claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: ThrottleDecision,
        audit: AttemptAudit
    ) throws(AccountStoreError) -> AttemptVerdict {
        try base.checkAttempt(key, claiming: claim, alongside: alongside, at: time, decide: decide, audit: audit)
    }
    func recordDenialOfUnknownName(_ key: ThrottleKey) throws(AccountStoreError) {
        try base.recordDenialOfUnknownName(key)
    }
    func clearAttempts(_ key: ThrottleKey) throws(AccountStoreError) { try base.clearAttempts(key) }
    func clearAllAttempts(of subject: String) throws(AccountStoreError) { try base.clearAllAttempts(of: subject) }
    func throttleRecords(
        of subjects: [String],
        matching filter: ThrottleFilter,
        limit: Int
    ) throws(AccountStoreError) -> [String: ThrottleListing] {
        try base.throttleRecords(of: subjects, matching: filter, limit: limit)
    }
    func derivedKey(label: String) -> [UInt8] { base.derivedKey(label: label) }
    func organization(named name: OrganizationName) throws(AccountStoreError) -> Organization? {
        try base.organization(named: name)
    }
    func organizations(after: OrganizationName?, limit: Int) throws(AccountStoreError) -> [Organization] {
        try base.organizations(after: after, limit: limit)
    }
    func memberCount(of name: OrganizationName) throws(AccountStoreError) -> Int { try base.memberCount(of: name) }
    func createOrganization(_ organization: Organization) throws(AccountStoreError) {
        try base.createOrganization(organization)
    }
    func updateOrganization<Rejection: Error>(
        _ name: OrganizationName,
        _ body: (inout Organization) throws(Rejection) -> Void,
        eachMember: (inout Account) -> Bool
    ) throws(UpdateError<Rejection>) -> Organization {
        try base.updateOrganization(name, body, eachMember: eachMember)
    }
    func removeOrganization(_ name: OrganizationName) throws(AccountStoreError) { try base.removeOrganization(name) }
    func appendAudit(_ record: AuditRecord) throws(AccountStoreError) { try base.appendAudit(record) }
    func auditRecords(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> [AuditRecord] {
        try base.auditRecords(matching: filter, before: before, limit: limit)
    }
}
