import AccountStore
import LMDBAccountStore
import Synchronization
import TestSupport

/// The real LMDB store, with one change run at a chosen point (`Point`): `race` runs once, just before the first
/// call of that point's method. Everything else is the LMDB store's own.
final class RacingStore: ForwardingStore, @unchecked Sendable {
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

    private let point: Point
    private let race: Mutex<(@Sendable () throws -> Void)?>

    init(_ base: LMDBAccountStore, before point: Point, _ race: @escaping @Sendable () throws -> Void) {
        self.point = point
        self.race = Mutex(race)
        super.init(base)
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

    override func reserveAttempt(
        _ key: ThrottleKey,
        at time: UnixTime,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try racing(at: .reservingAnAttempt)
        return try base.reserveAttempt(key, at: time, decide: decide)
    }

    override func create<Rejection: Error>(
        _ account: Account,
        checkingOrganization body: (inout Account, Organization) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        do { try racing(at: .creatingAnAccount) } catch { throw .store(error) }
        return try base.create(account, checkingOrganization: body)
    }

    override func recordLogin(
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

    override func checkAttempt(
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
}
