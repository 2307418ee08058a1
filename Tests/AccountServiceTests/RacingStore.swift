import AccountStore
import LMDBAccountStore
import Synchronization

/// The real LMDB store, with one change run at a chosen point (`Point`): `race` runs once, just before the first
/// call of that point's method. Everything else is the LMDB store's own.
final class RacingStore: AccountStore, Sendable {
    /// Where the change runs: before the first call of one of the store's writes.
    enum Point {
        /// `reserveAttempt`: the attempt a login of several writes counts after its password was hashed, before
        /// any other write.
        case reservingAnAttempt
        /// `checkAttempt`: the one write of a login or a code check, after the password was hashed.
        case checkingAnAttempt
        /// `create`: the write of a new account, after its password was hashed.
        case creatingAnAccount
        /// `recordLogin`: the write a login completing its held attempt accepts its code in.
        case recordingALogin
    }

    let base: LMDBAccountStore
    private let point: Point
    private let race: Mutex<(@Sendable () throws -> Void)?>

    init(_ base: LMDBAccountStore, before point: Point, _ race: @escaping @Sendable () throws -> Void) {
        self.base = base
        self.point = point
        self.race = Mutex(race)
    }

    convenience init(_ base: LMDBAccountStore, beforeReservingAnAttempt race: @escaping @Sendable () throws -> Void) {
        self.init(base, before: .reservingAnAttempt, race)
    }

    /// Runs the race once, if `point` is where it runs.
    private func racing(at point: Point) throws(AccountStoreError) {
        guard point == self.point,
            let race = race.withLock({ race in
                defer { race = nil }; return race
            })
        else {
            return
        }
        do { try race() } catch { throw .storageFailure("the racing change failed: \(error)") }
    }

    func reserveAttempt(
        _ key: ThrottleKey,
        at time: UnixTime,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try racing(at: .reservingAnAttempt)
        return try base.reserveAttempt(key, at: time, decide: decide)
    }

    func account(named name: AccountName) throws(AccountStoreError) -> Account? { try base.account(named: name) }
    func accountExists(named name: AccountName) throws(AccountStoreError) -> Bool {
        try base.accountExists(named: name)
    }
    func accountForCodeCheck(named name: AccountName) throws(AccountStoreError) -> Account? {
        try base.accountForCodeCheck(named: name)
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
        do { try racing(at: .creatingAnAccount) } catch { throw .store(error) }
        return try base.create(account, checkingOrganization: body)
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
        try racing(at: .recordingALogin)
        return try base.recordLogin(
            of: name,
            claiming: claim,
            alongside: alongside,
            at: time,
            clearing: key,
            audit: audit
        )
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
        try racing(at: .checkingAnAttempt)
        return try base.checkAttempt(key, claiming: claim, alongside: alongside, at: time, decide: decide, audit: audit)
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
