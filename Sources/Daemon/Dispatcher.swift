import AccountService
import AccountStore
import Authentication
import Glibc
import OneTimePassword
import QRCode
import UserDatabase
import Wire

// MUSTs of dispatch:
// - a request runs only when its row in `Dispatcher.routes` allows the peer; if no row matches,
//   the request is denied;
// - a refused request changes nothing and says why;
// - a peer that is not an operator is never shown a path or system detail (`message(for:toOperator:)`).

/// Who may send a request.
enum Privilege: Sendable {
    /// Any local process that can open the socket (logins are throttled per account).
    case anyone
    /// An operator peer, or a connection on which an account logged in; `AccessPolicy` then decides
    /// what that caller may do to which account.
    case caller
    /// An operator, or a member of the daemon's code-check group (`--code-check-group`).
    case codeChecker
    /// An operator peer only, never an account logged in on the connection: whole-store maintenance.
    case operatorOnly
}

/// What a connection remembers from one request to the next.
struct Session: Sendable, Equatable {
    /// The account a Login answered `ok` made the connection act for, as it was then, until the next Login.
    /// It acts for nobody once that account's credentials change, except by this session's own requests
    /// (AccountSession.swift).
    var account: AccountSession?
    /// A login answered `codeNeeded`: its attempt stays counted by the throttle, and the very next request,
    /// if it is the same user's login with a code and the same password, completes that attempt instead of
    /// counting another. So a person's two-step login counts once, nothing about the password shows in the count,
    /// and every other password sent is counted.
    var heldAttempt: HeldAttempt?
    /// The snapshot a BackupBegin took, read by the BackupReads that follow; dropped (and its file with
    /// it) when the last byte was read or the connection closes.
    var backup: StoreSnapshot?

    init(account: AccountSession? = nil, heldAttempt: HeldAttempt? = nil) {
        self.account = account
        self.heldAttempt = heldAttempt
    }

    /// After a request of this session changed `account`: when that is the session's own account, the session
    /// goes on with it as the change left it (the service checked, in that write, that it still held).
    mutating func renew(after account: Account) {
        self.account = self.account?.continued(after: account)
    }
}

struct HeldAttempt: Sendable, Equatable {
    var user: String
    var until: Int64
    /// The held login's password check, so the login with the code runs no second scrypt for the same password.
    var passwordMemo: PasswordMemo?

    static func == (lhs: HeldAttempt, rhs: HeldAttempt) -> Bool {
        lhs.user == rhs.user && lhs.until == rhs.until && lhs.passwordMemo === rhs.passwordMemo
    }

    /// How long a held attempt waits for its code: long enough to read it off a phone.
    static let lifetime: Int64 = 300
}

/// Turns a decoded request into a service call and its answer. Runs on a worker thread.
struct Dispatcher: Sendable {
    let services: ServiceSlot
    let operators: OperatorPolicy
    /// Each request makes one service call, so a SIGHUP reload never splits a request between two services.
    var service: AccountService { services.current }
    /// Members of this group may send CodeCheck; nil when the daemon names no such group.
    var codeCheckers: OperatorPolicy? = nil
    /// Backups and key rotation; nil when the store cannot do them.
    var maintenance: (any StoreMaintenance)? = nil
    /// The lookups of `operators` and `codeCheckers` the daemon caches (`OperatorCache`: one at a time per uid,
    /// kept 30 s), so that a flood of requests costs NSS one lookup, not one each; nil asks them for every request.
    var operatorLookups: OperatorCache? = nil
    var codeCheckerLookups: OperatorCache? = nil
    /// Peers' login names (`OperatorPolicy.loginName`), for a code-check group member's enrollment, cached as the
    /// operator answers are; nil asks NSS for every request.
    var loginNames: NSSLookupCache<String?>? = nil

    /// Whether `peer` has operator rights. May block on NSS, for at most the cache's lookup timeout.
    func isOperator(_ peer: PeerCredentials) -> Bool {
        operatorLookups?.isOperator(peer) ?? operators.isOperator(peer)
    }

    /// Whether `peer` is in the code-check group. May block on NSS, as `isOperator` may.
    func isCodeChecker(_ peer: PeerCredentials) -> Bool {
        guard let codeCheckers else { return false }
        return codeCheckerLookups?.isOperator(peer) ?? codeCheckers.isOperator(peer)
    }

    /// The login name of `peer`'s uid; nil when it has none, or NSS did not give it within the cache's timeout.
    /// May block on NSS, as `isOperator` may.
    func loginName(of peer: PeerCredentials) -> String? {
        guard let loginNames else { return UserDatabase.user(withUID: peer.uid)?.name }
        return loginNames.answer(for: peer)
    }

    /// The dispatch table: one row per request type.
    static func privilege(for request: Request) -> Privilege? {
        switch request {
        case .hello: nil  // handled by the connection itself, never dispatched
        case .login: .anyone
        case .userAdd, .userSetPassword, .userShow, .userList, .userRemove, .enrollBegin, .enrollConfirm,
            .twoFactorDisable, .twoFactorForce, .twoFactorReset, .recoveryCodesIssue, .unlock, .auditQuery,
            .organizationAdd, .organizationSet, .organizationShow, .organizationList, .organizationRemove,
            .graceRevoke, .accessShow, .organizationAccessSet, .organizationAccessShow, .exemptAdd, .exemptRemove,
            .exemptList, .authenticatorAddBegin, .authenticatorAddConfirm, .authenticatorList, .authenticatorRemove,
            .authenticatorResync:
            .caller
        case .loginFrom: .anyone
        case .codeCheck: .codeChecker
        case .backupBegin, .backupRead, .keyRotate: .operatorOnly
        }
    }

    /// Answers `request`; returns the connection's session afterwards (a Login sets or clears it).
    func handle(
        _ request: Request,
        from peer: PeerCredentials,
        session: Session
    ) -> (response: Response, session: Session) {
        // A held attempt serves the very next request only.
        var session = session
        let held = session.heldAttempt
        session.heldAttempt = nil
        guard let privilege = Self.privilege(for: request) else {
            return (.error(code: .malformedRequest, message: "this request is not served here"), session)
        }
        if privilege == .codeChecker, !isOperator(peer), !isCodeChecker(peer) {
            let groups = [operators.groupName] + (codeCheckers.map { [$0.groupName] } ?? [])
            let message =
                "checking a code without a password needs root or membership of group "
                + groups.map { "'\($0)'" }.joined(separator: " or ")
            return (.error(code: .notPermitted, message: message), session)
        }
        if privilege == .operatorOnly {
            let response = maintain(request, from: peer, session: &session)
            return (response, session)
        }
        do {
            switch request {
            case .login(let user, let password, let codeKind, let code):
                let attempt = LoginAttempt(user: user, password: password, codeKind: codeKind, code: code, held: held)
                // A Login opens a session for administration (`twofactorctl --as`): it never skips the code
                // (no grace, trusted network or exemption), so an admin's step-up always takes one.
                let (origin, _) = loginOrigin(of: peer, LoginOrigin(), readingSession: false)
                let (result, opened) = try service.openSession(
                    user: user,
                    password: password,
                    code: attempt.input,
                    origin: origin,
                    attemptHeld: attempt.completesHeldAttempt,
                    passwordMemo: attempt.passwordMemo
                )
                session.account = opened
                session.heldAttempt = attempt.held(after: result)
                return (Self.response(for: result), session)
            case .loginFrom(let user, let password, let codeKind, let code, let origin):
                let attempt = LoginAttempt(user: user, password: password, codeKind: codeKind, code: code, held: held)
                let (throttle, context) = loginOrigin(of: peer, origin)
                let result = try service.reporting(LoginOriginInfo(origin, from: context)).login(
                    user: user,
                    password: password,
                    code: attempt.input,
                    origin: throttle,
                    attemptHeld: attempt.completesHeldAttempt,
                    context: context,
                    passwordMemo: attempt.passwordMemo
                )
                session.heldAttempt = attempt.held(after: result)
                return (Self.screenResponse(for: result), session)
            case .codeCheck(let user, let codeKind, let code, let origin):
                let check = codeCheck(user, from: peer, origin)
                let result = try check.service.checkCode(
                    user: user,
                    code: CodeInput(codeKind, code),
                    origin: check.throttle,
                    context: check.context,
                    mayEnroll: check.mayEnroll
                )
                return (Self.screenResponse(for: result), session)
            default:
                break
            }
            let operatorUID = isOperator(peer) ? peer.uid : nil
            if privilege == .caller, session.account == nil, operatorUID == nil {
                return (
                    .error(
                        code: .notPermitted,
                        message: "this needs operator rights (root or group '\(operators.groupName)'), or a login "
                            + "as an account that may do it first (--as ACCOUNT)"
                    ),
                    session
                )
            }
            let caller = try service.caller(session: session.account, operatorUID: operatorUID)
            return (try perform(request, caller: caller, peer: peer, session: &session), session)
        } catch {
            return (response(for: error, to: peer), session)
        }
    }

    /// `handle`, for a caller that does not wait for a code check's durable write: `answer` gets the answer
    /// once it is known, possibly on the store's writer thread, as a closure that logs the check's outcome
    /// when called (`AccountService.checkCode(user:code:origin:context:mayEnroll:answer:)`), for the caller to
    /// call where it logs. Every other request is answered at once, on this thread, as `handle` answers it.
    func handle(
        _ request: Request,
        from peer: PeerCredentials,
        session: Session,
        answer: @escaping (_ answered: @escaping @Sendable () -> (response: Response, session: Session)) -> Void
    ) {
        guard case .codeCheck(let user, let codeKind, let code, let origin) = request,
            isOperator(peer) || isCodeChecker(peer)
        else {
            let answered = handle(request, from: peer, session: session)
            return answer { answered }
        }
        var after = session
        after.heldAttempt = nil
        let session = after
        let check = codeCheck(user, from: peer, origin)
        // `answered` runs where the caller logs (the event loop), which must not wait on an operator lookup:
        // whether the peer is one was decided here, on the worker.
        let toOperator = check.context.peerIsPrivileged
        check.service.checkCode(
            user: user,
            code: CodeInput(codeKind, code),
            origin: check.throttle,
            context: check.context,
            mayEnroll: check.mayEnroll
        ) { outcome in
            answer {
                do throws(ServiceError) {
                    return (Self.screenResponse(for: try outcome()), session)
                } catch {
                    return (Self.response(for: error, toOperator: toOperator), session)
                }
            }
        }
    }

    /// A CodeCheck's parts, for a peer that may send it. A code check holds no attempt: without a code it
    /// counts none, with one it counts its own.
    private func codeCheck(
        _ user: String,
        from peer: PeerCredentials,
        _ origin: LoginOrigin
    ) -> (service: AccountService, throttle: ThrottleOrigin, context: LoginContext, mayEnroll: () -> Bool) {
        let (throttle, context) = loginOrigin(of: peer, origin)
        // A member of the code-check group who is no operator (a set-group-ID program that any local
        // user may run) shows the secret to whoever runs it: it enrolls only its own uid's account.
        // Asked only for a pending account, since the passwd lookup may go to the network (NSS); a name that
        // NSS does not give in time enrolls no one.
        let mayEnroll = { context.peerIsPrivileged || loginName(of: peer) == user }
        return (service.reporting(LoginOriginInfo(origin, from: context)), throttle, context, mayEnroll)
    }

    /// The error answer to `peer` for `error`.
    private func response(for error: ServiceError, to peer: PeerCredentials) -> Response {
        // Only a failure whose details are withheld costs the (possibly slow) group lookup.
        Self.response(for: error, toOperator: Self.isWithheldFromOthers(error.kind) && isOperator(peer))
    }

    /// The error answer for `error`, to an operator or not.
    private static func response(for error: ServiceError, toOperator: Bool) -> Response {
        .error(code: errorCode(for: error.kind), message: message(for: error, toOperator: toOperator))
    }

    /// Storage and internal failures carry paths and system details (the daemon logs them in full).
    static func isWithheldFromOthers(_ kind: ServiceError.Kind) -> Bool {
        kind == .storageFailure || kind == .internalError
    }

    /// What a peer is told of a failure: operators get the whole sentence; other peers get no
    /// path or system detail, only where to look.
    static func message(for error: ServiceError, toOperator: Bool) -> String {
        guard !toOperator, isWithheldFromOthers(error.kind) else { return error.message }
        return error.kind == .storageFailure
            ? "the daemon could not read or write its state: an operator can read its log"
            : "the daemon failed to answer: an operator can read its log"
    }

    /// Whose failures a login counts against: an unprivileged peer's against its own uid only, so that one
    /// local user cannot lock out another; a privileged peer's (sshd, login through PAM) against the
    /// account, and the remote host it reports. A privileged peer's login for an invoker (su or sudo, which
    /// any local user can run) counts against the invoker's uid only, exactly as if that user had sent it;
    /// an unprivileged peer's invoker is ignored, since its own uid is what it would be throttled by anyway.
    /// May block on NSS: runs on a worker.
    ///
    /// With it, for grace periods, trusted networks and exemptions, what the daemon itself knows of the peer:
    /// whether it is privileged (so its remote host is believed), its uid, and its audit login session (read
    /// from /proc by the daemon, never sent by the client). An invoker changes none of these.
    func loginOrigin(
        of peer: PeerCredentials,
        _ origin: LoginOrigin,
        readingSession: Bool = true
    ) -> (ThrottleOrigin, LoginContext) {
        let privileged = isOperator(peer)
        let throttle: ThrottleOrigin =
            if !privileged {
                .peer(uid: peer.uid)
            } else if let invoker = origin.invokerUID {
                .peer(uid: invoker)
            } else {
                origin.remoteHost.isEmpty ? .local : .host(origin.remoteHost)
            }
        let context = LoginContext(
            peerIsPrivileged: privileged,
            peerUID: peer.uid,
            reportedRemoteHost: origin.remoteHost,
            service: origin.service,
            peerSession: readingSession && origin.remoteHost.isEmpty ? peer.session : nil
        )
        return (throttle, context)
    }

    /// Runs `request` as `caller`. A change the session makes to its own account's credentials carries the
    /// session over to the account as that change left it.
    private func perform(
        _ request: Request,
        caller: Caller,
        peer: PeerCredentials,
        session: inout Session
    ) throws(ServiceError) -> Response {
        switch request {
        case .hello, .login, .loginFrom, .codeCheck, .backupBegin, .backupRead, .keyRotate:
            return .error(code: .malformedRequest, message: "this request is not served here")
        case .userAdd(let user, let organization, let role, let requireTwoFactor, let password):
            _ = try service.addAccount(
                caller: caller,
                name: user,
                organization: organization.isEmpty ? nil : organization,
                role: role == .admin ? .admin : .agent,
                requireTwoFactor: requireTwoFactor,
                password: password
            )
            return .done
        case .userSetPassword(let user, let password):
            session.renew(after: try service.setPassword(caller: caller, name: user, password: password))
            return .done
        case .userShow(let user):
            let status = try service.status(
                caller: caller,
                name: user,
                originLocksShown: WireProtocol.maximumOriginLocks
            )
            return .userInfo(AccountInfo(status), originLocks: status.originLocks.map(OriginLockInfo.init))
        case .userList(let organization, let after, let limit):
            let page = try service.accounts(
                caller: caller,
                organization: organization.isEmpty ? nil : organization,
                after: after.isEmpty ? nil : after,
                limit: min(Int(limit), WireProtocol.maximumPageSize)
            )
            return .userList(page.accounts.map(AccountInfo.init), next: page.next?.value ?? "")
        case .userRemove(let user):
            try service.removeAccount(caller: caller, name: user)
            return .done
        case .enrollBegin(let user, let algorithm, let digits, let period):
            let parameters = TOTPParameters(
                algorithm: OTPAlgorithm(algorithm) ?? TOTPParameters.standard.algorithm,
                digits: digits == 0 ? TOTPParameters.standard.digits : Int(digits),
                period: period == 0 ? TOTPParameters.standard.period : Int(period)
            )
            let offer = try service.beginEnrollment(caller: caller, name: user, parameters: parameters)
            return .enrollmentStarted(
                otpauthURI: Array(offer.otpauthURI.utf8),
                expiresAt: UInt64(max(0, offer.expiresAt))
            )
        case .enrollConfirm(let user, let code):
            let (codes, enrolled) = try service.confirmEnrollment(caller: caller, name: user, code: code)
            session.renew(after: enrolled)
            return .recoveryCodes(codes)
        case .twoFactorDisable(let user):
            session.renew(after: try service.disableTwoFactor(caller: caller, name: user))
            return .done
        case .twoFactorForce(let user):
            try service.forceTwoFactor(caller: caller, name: user)
            return .done
        case .twoFactorReset(let user):
            try service.resetTwoFactor(caller: caller, name: user)
            return .done
        case .recoveryCodesIssue(let user):
            return .recoveryCodes(try service.issueRecoveryCodes(caller: caller, name: user))
        case .unlock(let user):
            try service.unlock(caller: caller, name: user)
            return .done
        case .auditQuery(let user, let organization, let since, let before, let limit):
            let page = try service.auditPage(
                caller: caller,
                account: user.isEmpty ? nil : user,
                organization: organization.isEmpty ? nil : organization,
                since: since == 0 ? nil : UnixTime(clamping: since),
                before: before == 0 ? nil : before,
                limit: Int(limit)
            )
            return .auditList(page.records.map(AuditEntry.init), next: page.next)
        case .organizationAdd(let organization, let requireTwoFactor):
            _ = try service.addOrganization(caller: caller, name: organization, requireTwoFactor: requireTwoFactor)
            return .done
        case .organizationSet(let organization, let requireTwoFactor):
            _ = try service.setOrganization(caller: caller, name: organization, requireTwoFactor: requireTwoFactor)
            return .done
        case .organizationShow(let organization):
            return .organizationInfo(OrganizationInfo(try service.organization(caller: caller, name: organization)))
        case .organizationList(let after, let limit):
            let page = try service.organizations(
                caller: caller,
                after: after.isEmpty ? nil : after,
                limit: Int(limit)
            )
            return .organizationList(page.organizations.map(OrganizationInfo.init), next: page.next?.value ?? "")
        case .organizationRemove(let organization):
            try service.removeOrganization(caller: caller, name: organization)
            return .done
        case .graceRevoke, .accessShow, .organizationAccessSet, .organizationAccessShow, .exemptAdd, .exemptRemove,
            .exemptList:
            return try performAccess(request, caller: caller)
        case .authenticatorAddBegin, .authenticatorAddConfirm, .authenticatorList, .authenticatorRemove,
            .authenticatorResync:
            return try performAuthenticator(request, caller: caller, peer: peer, session: &session)
        }
    }

    /// LoginFrom and CodeCheck answer `enroll` with the QR code drawn as text, for clients that
    /// cannot draw one (the C PAM module links only libc and libpam).
    static func screenResponse(for result: LoginResult) -> Response {
        guard case .enroll(let uri) = result else { return response(for: result) }
        let screen = (try? QRMatrix(encoding: uri)).map { QRRenderer.terminal($0) } ?? ""
        return .enrollScreen(otpauthURI: Array(uri.utf8), screen: Array(screen.utf8))
    }

    static func response(for result: LoginResult) -> Response {
        switch result {
        case .ok: .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: [])
        case .enrolled(let codes): .recoveryCodes(codes)
        case .recovered(let remaining): .recoveryLogin(remaining: UInt8(clamping: remaining))
        case .codeNeeded: .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: [])
        case .enroll(let uri): .loginResult(outcome: .enroll, retryAfter: 0, otpauthURI: Array(uri.utf8))
        case .denied: .loginResult(outcome: .denied, retryAfter: 0, otpauthURI: [])
        case .locked(let wait): .loginResult(outcome: .locked, retryAfter: UInt32(clamping: wait), otpauthURI: [])
        }
    }

    static func errorCode(for kind: ServiceError.Kind) -> ErrorCode {
        switch kind {
        case .noSuchAccount: .noSuchAccount
        case .accountExists: .accountExists
        case .invalidArgument: .invalidArgument
        case .wrongCode: .wrongCode
        case .noEnrollmentInProgress: .noEnrollmentInProgress
        case .notPermitted: .notPermitted
        case .noSuchOrganization: .noSuchOrganization
        case .organizationExists: .organizationExists
        case .organizationNotEmpty: .organizationNotEmpty
        case .storageFailure: .storageFailure
        case .internalError: .internalError
        case .noSuchAuthenticator: .noSuchAuthenticator
        case .authenticatorExists: .authenticatorExists
        }
    }
}

extension OTPAlgorithm {
    init?(_ wire: WireAlgorithm) {
        switch wire {
        case .sha1: self = .sha1
        case .sha256: self = .sha256
        case .sha512: self = .sha512
        default: return nil
        }
    }
}

extension WireAlgorithm {
    init(_ algorithm: OTPAlgorithm) {
        switch algorithm {
        case .sha1: self = .sha1
        case .sha256: self = .sha256
        case .sha512: self = .sha512
        }
    }
}

extension ActorInfo {
    init(_ actor: Actor?) {
        switch actor {
        case nil: self = .none
        case .operator(let uid): self = .operator(uid: uid)
        case .account(let name): self = .account(name.value)
        case .system: self = .daemon
        }
    }
}

extension OrganizationInfo {
    init(_ status: OrganizationStatus) {
        self.init(
            name: status.organization.name.value,
            requiresTwoFactor: status.organization.requiresTwoFactor,
            members: UInt32(clamping: status.members),
            createdAt: UInt64(max(0, status.organization.createdAt)),
            updatedAt: UInt64(max(0, status.organization.updatedAt))
        )
    }
}

extension AuditEntry {
    init(_ record: AuditRecord) {
        self.init(
            sequence: record.sequence,
            time: UInt64(max(0, record.time)),
            actor: ActorInfo(record.actor),
            target: record.target?.value ?? "",
            organization: record.organization?.value ?? "",
            action: record.action.rawValue,
            outcome: record.outcome.rawValue,
            detail: String(record.detail.utf8.prefix(128)) ?? ""
        )
    }
}

extension AccountInfo {
    init(_ status: AccountStatus) {
        let account = status.account
        let state: WireTwoFactorState =
            switch account.twoFactor {
            case .off: .off
            case .pending: .pending
            case .on(.self): .onSelf
            case .on(.enforced): .onEnforced
            }
        let unix = { (time: UnixTime?) in UInt64(max(0, time ?? 0)) }
        self.init(
            user: account.name.value,
            organization: account.organization.value,
            role: account.role == .admin ? .admin : .agent,
            twoFactor: state,
            algorithm: account.totp.map { WireAlgorithm($0.parameters.algorithm) } ?? .default,
            digits: UInt8(account.totp?.parameters.digits ?? 0),
            period: UInt16(account.totp?.parameters.period ?? 0),
            failureCount: account.failureCount,
            createdAt: unix(account.createdAt),
            updatedAt: unix(account.updatedAt),
            stateSetBy: ActorInfo(account.twoFactorChange?.actor),
            stateSetAt: unix(account.twoFactorChange?.time),
            enrolledAt: unix(account.enrolledAt),
            lastLoginAt: unix(account.lastLoginAt),
            recoveryCodes: UInt8(clamping: account.recoveryCodes.count),
            lockedUntil: unix(status.lockedUntil),
            lockedOrigins: UInt32(clamping: status.lockedOrigins)
        )
    }
}

extension OriginLockInfo {
    init(_ lock: OriginLock) {
        let origin: Origin =
            switch lock.origin {
            case .peer(let uid): .uid(uid)
            // The stores keep 255 bytes too; the protocol's limit, cut at a character boundary.
            case .host(let host): .host(host.clipped(toUTF8Bytes: 255))
            case .local: .local
            }
        self.init(origin: origin, failures: lock.failures, lockedUntil: UInt64(max(1, lock.lockedUntil)))
    }
}

extension CodeInput {
    init(_ kind: CodeKind, _ code: String) {
        switch kind {
        case .none: self = .none
        case .totp: self = .totp(code)
        case .recovery: self = .recovery(code)
        }
    }
}

extension LoginOriginInfo {
    /// The remote host and the invoker are logged only when they were believed (`Dispatcher.loginOrigin`): a line
    /// with another peer's host would pin that peer's guesses on a host of its choosing.
    init(_ origin: LoginOrigin, from context: LoginContext) {
        self.init(
            service: origin.service,
            remoteHost: context.remoteHost ?? "",
            invokerUID: context.peerIsPrivileged ? origin.invokerUID : nil
        )
    }
}

extension ShareHolder {
    /// Whose share of the workers `request` takes: a privileged peer's login for an invoker (su or sudo run
    /// by a local user) takes the invoker's, as if that user had sent it, so that one user running many `su`
    /// cannot crowd out the logins root carries for everyone (sshd). Believed only from an operator peer, as
    /// in `Dispatcher.loginOrigin`.
    func charged(for request: Request) -> ShareHolder {
        let origin: LoginOrigin? =
            switch request {
            case .loginFrom(_, _, _, _, let origin), .codeCheck(_, _, _, let origin): origin
            default: nil
            }
        guard isOperator, let invoker = origin?.invokerUID else { return self }
        return ShareHolder(uid: invoker, isOperator: false)
    }
}

/// One login request as the throttle sees it: which code it carries, and whether it completes the attempt a
/// `codeNeeded` answer held on the connection. Only a login with a code, of the same user, with the same password
/// (compared through the held memo: `PasswordMemo.holdsCheck`), before the hold expires, completes it; any other
/// is a new attempt, checked against the lock and counted, so that a held attempt never lets a second password
/// be checked for free.
struct LoginAttempt {
    let user: String
    let input: CodeInput
    let completesHeldAttempt: Bool
    /// A login without a code gets a fresh memo of its password check, held with its attempt; the login
    /// completing that attempt reads it.
    let passwordMemo: PasswordMemo?

    init(user: String, password: [UInt8], codeKind: CodeKind, code: String, held: HeldAttempt?) {
        self.user = user
        input = CodeInput(codeKind, code)
        let now = Int64(time(nil))
        completesHeldAttempt =
            codeKind != .none
            && held.map { held in
                held.user == user && held.until >= now
                    && held.passwordMemo?.holdsCheck(of: password, for: user) == true
            } == true
        if case .none = input {
            passwordMemo = PasswordMemo()
        } else {
            passwordMemo = completesHeldAttempt ? held?.passwordMemo : nil
        }
    }

    /// The attempt to hold after `result`: a login without a code that was asked for one.
    func held(after result: LoginResult) -> HeldAttempt? {
        guard case .none = input, result == .codeNeeded else { return nil }
        return HeldAttempt(user: user, until: Int64(time(nil)) + HeldAttempt.lifetime, passwordMemo: passwordMemo)
    }
}
