import AccountStore

/// A store that hands every request to `base`, for tests that override the one method where they break or race a
/// real store and leave the rest to it. It forwards the protocol's requirements that have no default; the defaults
/// (`accountForCodeCheckWithOrganization`, the queued `checkAttempt`, `auditPage`) run over these methods, so an
/// override of `accountForCodeCheck` or `checkAttempt` sees every read or attempt.
open class ForwardingStore: AccountStore, @unchecked Sendable {
    public let base: any AccountStore

    public init(_ base: any AccountStore) {
        self.base = base
    }

    open func reserveAttempt(
        _ key: ThrottleKey,
        at time: UnixTime,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try base.reserveAttempt(key, at: time, decide: decide)
    }

    open func account(named name: AccountName) throws(AccountStoreError) -> Account? { try base.account(named: name) }
    open func accountExists(named name: AccountName) throws(AccountStoreError) -> Bool {
        try base.accountExists(named: name)
    }
    open func accountForCodeCheck(named name: AccountName) throws(AccountStoreError) -> Account? {
        try base.accountForCodeCheck(named: name)
    }
    open func accountForLogin(named name: AccountName) throws(AccountStoreError) -> Account? {
        try base.accountForLogin(named: name)
    }
    open func readStandInForLogin() throws(AccountStoreError) { try base.readStandInForLogin() }
    open func accounts(
        in organization: OrganizationName?,
        after: AccountName?,
        limit: Int
    ) throws(AccountStoreError) -> [Account] {
        try base.accounts(in: organization, after: after, limit: limit)
    }
    open func create<Rejection: Error>(
        _ account: Account,
        checkingOrganization body: (inout Account, Organization) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        try base.create(account, checkingOrganization: body)
    }
    open func update<Rejection: Error>(
        _ name: AccountName,
        withOrganization: Bool,
        _ body: (inout Account, Organization?) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        try base.update(name, withOrganization: withOrganization, body)
    }
    open func remove(_ name: AccountName, ifStill identity: AccountIdentity?) throws(AccountStoreError) {
        try base.remove(name, ifStill: identity)
    }
    open func recordAcceptedStep(
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
    open func recordSuccess(for name: AccountName, at time: UnixTime) throws(AccountStoreError) {
        try base.recordSuccess(for: name, at: time)
    }
    open func recordLogin(
        of name: AccountName,
        claiming claim: StepClaim?,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        clearing key: ThrottleKey?,
        audit: AuditRecord?
    ) throws(AccountStoreError) -> StepAcceptance {
        try base.recordLogin(
            of: name,
            claiming: claim,
            alongside: alongside,
            at: time,
            clearing: key,
            audit: audit
        )
    }
    open func previewAttempt(
        _ key: ThrottleKey,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try base.previewAttempt(key, decide: decide)
    }
    open func checkAttempt(
        _ key: ThrottleKey,
        claiming claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: ThrottleDecision,
        audit: AttemptAudit
    ) throws(AccountStoreError) -> AttemptVerdict {
        try base.checkAttempt(key, claiming: claim, alongside: alongside, at: time, decide: decide, audit: audit)
    }
    open func recordDenialOfUnknownName(_ key: ThrottleKey) throws(AccountStoreError) {
        try base.recordDenialOfUnknownName(key)
    }
    open func clearAttempts(_ key: ThrottleKey) throws(AccountStoreError) { try base.clearAttempts(key) }
    open func clearAllAttempts(of subject: String) throws(AccountStoreError) { try base.clearAllAttempts(of: subject) }
    open func throttleRecords(
        of subjects: [String],
        matching filter: ThrottleFilter,
        limit: Int
    ) throws(AccountStoreError) -> [String: ThrottleListing] {
        try base.throttleRecords(of: subjects, matching: filter, limit: limit)
    }
    open func derivedKey(label: String) -> [UInt8] { base.derivedKey(label: label) }
    open func organization(named name: OrganizationName) throws(AccountStoreError) -> Organization? {
        try base.organization(named: name)
    }
    open func organizations(after: OrganizationName?, limit: Int) throws(AccountStoreError) -> [Organization] {
        try base.organizations(after: after, limit: limit)
    }
    open func memberCount(of name: OrganizationName) throws(AccountStoreError) -> Int { try base.memberCount(of: name) }
    open func createOrganization(_ organization: Organization) throws(AccountStoreError) {
        try base.createOrganization(organization)
    }
    open func updateOrganization<Rejection: Error>(
        _ name: OrganizationName,
        _ body: (inout Organization) throws(Rejection) -> Void,
        eachMember: (inout Account) -> Bool
    ) throws(UpdateError<Rejection>) -> Organization {
        try base.updateOrganization(name, body, eachMember: eachMember)
    }
    open func removeOrganization(_ name: OrganizationName) throws(AccountStoreError) {
        try base.removeOrganization(name)
    }
    open func appendAudit(_ record: AuditRecord) throws(AccountStoreError) { try base.appendAudit(record) }
    open func auditRecords(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> [AuditRecord] {
        try base.auditRecords(matching: filter, before: before, limit: limit)
    }
}
