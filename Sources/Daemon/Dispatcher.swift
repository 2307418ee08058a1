import AccountService
import AccountStore
import Authentication
import OneTimePassword
import Wire

// MUSTs of dispatch:
// - a request runs only when its row in `Dispatcher.routes` allows the peer; if no row matches,
//   the request is denied;
// - a refused request changes nothing and says why.

/// Who may send a request.
enum Privilege: Sendable {
    /// Any local process that can open the socket (logins are throttled per account).
    case anyone
    /// Root, the daemon's own user, or a member of the operator group.
    case `operator`
}

/// Turns a decoded request into a service call and its answer. Runs on a worker thread.
struct Dispatcher: Sendable {
    let services: ServiceSlot
    let operators: OperatorPolicy
    /// Each request makes one service call, so a SIGHUP reload never splits a request between two services.
    var service: AccountService { services.current }

    /// Accounts per UserList answer: 400 records of the largest size fit in one response frame
    /// (docs/protocol.md, UserList); a client asking for more gets this many and a `next`.
    static let maximumPageSize = 400

    /// The dispatch table: one row per request type.
    static func privilege(for request: Request) -> Privilege? {
        switch request {
        case .hello: nil  // handled by the connection itself, never dispatched
        case .login: .anyone
        case .userAdd, .userSetPassword, .userShow, .userList, .userRemove: .operator
        case .enrollBegin, .enrollConfirm, .twoFactorDisable: .operator
        }
    }

    func handle(_ request: Request, from peer: PeerCredentials) -> Response {
        guard let privilege = Self.privilege(for: request) else {
            return .error(code: .malformedRequest, message: "this request is not served here")
        }
        if privilege == .operator, !operators.isOperator(peer) {
            return .error(
                code: .notPermitted,
                message: "this needs operator rights: run it as root or as a member of group '\(operators.groupName)'"
            )
        }
        do {
            return try perform(request)
        } catch {
            return .error(code: Self.errorCode(for: error.kind), message: error.message)
        }
    }

    private func perform(_ request: Request) throws(ServiceError) -> Response {
        switch request {
        case .hello:
            return .error(code: .malformedRequest, message: "Hello was already sent on this connection")
        case .login(let user, let password, let codeKind, let code):
            let input: CodeInput =
                switch codeKind {
                case .none: .none
                case .totp: .totp(code)
                case .recovery: .recovery(code)
                }
            return Self.response(for: try service.login(user: user, password: password, code: input))
        case .userAdd(let user, let organization, let role, let requireTwoFactor, let password):
            _ = try service.addAccount(
                name: user,
                organization: organization.isEmpty ? nil : organization,
                role: role == .admin ? .admin : .agent,
                requireTwoFactor: requireTwoFactor,
                password: password
            )
            return .done
        case .userSetPassword(let user, let password):
            try service.setPassword(name: user, password: password)
            return .done
        case .userShow(let user):
            return .userInfo(AccountInfo(try service.account(named: user)))
        case .userList(let organization, let after, let limit):
            let page = try service.accounts(
                organization: organization.isEmpty ? nil : organization,
                after: after.isEmpty ? nil : after,
                limit: min(Int(limit), Self.maximumPageSize)
            )
            return .userList(page.accounts.map(AccountInfo.init), next: page.next?.value ?? "")
        case .userRemove(let user):
            try service.removeAccount(name: user)
            return .done
        case .enrollBegin(let user, let algorithm, let digits, let period):
            let parameters = TOTPParameters(
                algorithm: OTPAlgorithm(algorithm) ?? TOTPParameters.standard.algorithm,
                digits: digits == 0 ? TOTPParameters.standard.digits : Int(digits),
                period: period == 0 ? TOTPParameters.standard.period : Int(period)
            )
            let offer = try service.beginEnrollment(name: user, parameters: parameters)
            return .enrollmentStarted(otpauthURI: offer.otpauthURI, expiresAt: UInt64(max(0, offer.expiresAt)))
        case .enrollConfirm(let user, let code):
            try service.confirmEnrollment(name: user, code: code)
            return .done
        case .twoFactorDisable(let user):
            try service.disableTwoFactor(name: user)
            return .done
        }
    }

    static func response(for result: LoginResult) -> Response {
        switch result {
        case .ok: .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: "")
        case .codeNeeded: .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: "")
        case .enroll(let uri): .loginResult(outcome: .enroll, retryAfter: 0, otpauthURI: uri)
        case .denied: .loginResult(outcome: .denied, retryAfter: 0, otpauthURI: "")
        case .locked(let wait): .loginResult(outcome: .locked, retryAfter: UInt32(clamping: wait), otpauthURI: "")
        }
    }

    static func errorCode(for kind: ServiceError.Kind) -> ErrorCode {
        switch kind {
        case .noSuchAccount: .noSuchAccount
        case .accountExists: .accountExists
        case .invalidArgument: .invalidArgument
        case .wrongCode: .wrongCode
        case .noEnrollmentInProgress: .noEnrollmentInProgress
        case .storageFailure: .storageFailure
        case .internalError: .internalError
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

extension AccountInfo {
    init(_ account: Account) {
        let state: WireTwoFactorState =
            switch account.twoFactor {
            case .off: .off
            case .pending: .pending
            case .on(.self): .onSelf
            case .on(.enforced): .onEnforced
            }
        self.init(
            user: account.name.value,
            organization: account.organization.value,
            role: account.role == .admin ? .admin : .agent,
            twoFactor: state,
            algorithm: account.totp.map { WireAlgorithm($0.parameters.algorithm) } ?? .default,
            digits: UInt8(account.totp?.parameters.digits ?? 0),
            period: UInt16(account.totp?.parameters.period ?? 0),
            failureCount: account.failureCount,
            createdAt: UInt64(max(0, account.createdAt)),
            updatedAt: UInt64(max(0, account.updatedAt))
        )
    }
}
