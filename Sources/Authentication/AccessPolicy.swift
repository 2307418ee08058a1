import AccountStore

// MUSTs of who may do what (docs/product.md, "Who may do what"):
// - deny by default: an operation is allowed only by one of the rules in `decide`;
// - an operator may do everything to every account; nothing else in this file applies to it;
// - an admin acts on the agents of its own organization, never outside it, and creates agents only; another
//   admin (an organization has one; a store may hold two from before that rule) it may only see;
// - on itself, an admin is just an account: the rules of "the account itself" apply;
// - an account may turn off only a second factor it turned on itself (`on`/`self`);
// - a caller outside a target's scope gets the same refusal whether the target exists or not; an account's scope
//   (`scope(of:includes:)`) is itself, and for an admin its organization's accounts too.

/// Who is asking, as the daemon established it from the socket peer and the connection's last login.
public enum Caller: Sendable, Hashable {
    /// The peer is root, the daemon's user or in the operator group, and no account logged in on the connection.
    case `operator`(uid: UInt32)
    /// An account that logged in on this connection (its current record).
    case account(Account)
    /// Neither: only a login is possible.
    case anonymous

    /// The actor that the audit trail and the two-factor state record.
    public var actor: Actor? {
        switch self {
        case .operator(let uid): .operator(uid: uid)
        case .account(let account): .account(account.name)
        case .anonymous: nil
        }
    }
}

/// What a caller asks to do, to the target account given with it.
public enum Operation: Sendable, Hashable {
    case createAccount(organization: OrganizationName, role: Role)
    case setPassword
    case showAccount
    case removeAccount
    /// Start or finish enrolling an authenticator for the target.
    case enroll
    case forceTwoFactor
    case disableTwoFactor
    case resetTwoFactor
    case issueRecoveryCodes
    case unlock
    case readAudit
    /// List accounts of one organization, or every account the caller may see.
    case listAccounts(organization: OrganizationName?)
    case showOrganization(OrganizationName)
    /// Add, change or remove organizations.
    case manageOrganizations
    /// End every grace period of the target (`grace revoke`).
    case revokeGraces
    /// Add or remove a scoped exemption for automation (`exempt add`, `exempt remove`).
    case manageExemptions
    /// Remove one of the target's authenticators; removing its `last` one turns its 2FA off, and is
    /// decided as `disableTwoFactor` is.
    case removeAuthenticator(last: Bool)
    /// Set an authenticator's clock drift from two consecutive codes: for an admin or an operator.
    case resyncAuthenticator
}

/// In which capacity an allowed operation runs: it decides, for instance, whether an enrollment counts
/// as `self` or `enforced`.
public enum Capacity: Sendable, Hashable {
    case `operator`
    case admin
    case ownAccount
}

public enum AccessDecision: Sendable, Hashable {
    case allowed(Capacity)
    /// Refused; the message says why and what to do, in words a person can act on.
    case refused(String)
}

public enum AccessPolicy {
    /// Decides whether `caller` may perform `operation` on `target` (nil for operations without a target
    /// account, and for a target that does not exist).
    public static func decide(_ caller: Caller, _ operation: Operation, target: Account?) -> AccessDecision {
        switch caller {
        case .operator:
            return .allowed(.operator)
        case .anonymous:
            return .refused(
                "this needs operator rights, or a login as an account that may do it: run it as root or a member "
                    + "of the operator group, or pass --as ACCOUNT"
            )
        case .account(let account):
            return decide(account: account, operation, target: target)
        }
    }

    private static func decide(account caller: Account, _ operation: Operation, target: Account?) -> AccessDecision {
        switch operation {
        case .manageOrganizations:
            return .refused("only an operator can add, change or remove organizations")
        case .showOrganization(let organization):
            guard caller.role == .admin, organization == caller.organization else {
                return .refused("only an admin of '\(organization)' or an operator can see that organization")
            }
            return .allowed(.admin)
        case .listAccounts(let organization):
            guard caller.role == .admin else {
                return .refused("an agent sees only its own account: use `user show \(caller.name)`")
            }
            guard organization == nil || organization == caller.organization else {
                return .refused("an admin lists only its own organization '\(caller.organization)'")
            }
            return .allowed(.admin)
        case .createAccount(let organization, let role):
            guard caller.role == .admin, organization == caller.organization else {
                return .refused(
                    "only an admin of '\(organization)' or an operator can create accounts in that organization"
                )
            }
            guard role == .agent else { return .refused("only an operator can create admins") }
            return .allowed(.admin)
        default:
            break
        }
        guard let target, scope(of: caller, includes: target) else { return .refused(outOfScope(caller)) }
        if target.name == caller.name {
            return decideOnItself(caller, operation)
        }
        if target.role == .admin, operation != .showAccount, operation != .readAudit {
            return .refused("'\(target.name)' is an admin too: only an operator can change another admin's account")
        }
        switch operation {
        case .enroll, .issueRecoveryCodes:
            return .refused(
                "only '\(target.name)' can enroll its authenticator or get recovery codes: with "
                    + "`2fa enable --as \(target.name)`, or at its next login once two-factor login is required "
                    + "(`2fa force \(target.name)`)"
            )
        default:
            return .allowed(.admin)
        }
    }

    private static func decideOnItself(_ account: Account, _ operation: Operation) -> AccessDecision {
        switch operation {
        case .enroll, .setPassword, .showAccount, .readAudit, .revokeGraces:
            return .allowed(.ownAccount)
        case .issueRecoveryCodes:
            guard case .on = account.twoFactor else {
                return .refused("recovery codes come with an enrolled authenticator: enroll one first")
            }
            return .allowed(.ownAccount)
        case .disableTwoFactor:
            switch account.twoFactor {
            case .off, .on(.self):
                return .allowed(.ownAccount)
            case .pending, .on(.enforced):
                return .refused(
                    "two-factor on '\(account.name)' was required by an admin of '\(account.organization)' "
                        + "or an operator: ask them to turn it off"
                )
            }
        case .removeAuthenticator(let last):
            return last ? decideOnItself(account, .disableTwoFactor) : .allowed(.ownAccount)
        case .forceTwoFactor, .resetTwoFactor, .unlock, .removeAccount, .manageExemptions, .resyncAuthenticator:
            return .refused(
                account.role == .admin
                    ? "an admin cannot do this to its own account: ask an operator"
                    : "an account cannot do this to itself: ask an admin of '\(account.organization)' or an operator"
            )
        case .createAccount, .listAccounts, .showOrganization, .manageOrganizations:
            return .refused("not permitted")
        }
    }

    /// Whether `caller` may know of `target` at all: itself, and for an admin every account of its organization.
    /// Outside it, an account is refused with `outOfScope`, exactly as a name without an account.
    public static func scope(of caller: Account, includes target: Account) -> Bool {
        target.name == caller.name || (caller.role == .admin && target.organization == caller.organization)
    }

    /// Whether an account named `name` can be in `caller`'s scope: an agent's scope is its own name, so
    /// any other name is refused without reading it.
    public static func scope(of caller: Account, mayInclude name: AccountName) -> Bool {
        caller.role == .admin || name == caller.name
    }

    /// The one refusal for an account outside `caller`'s scope and for a name without an account.
    public static func outOfScope(_ caller: Account) -> String {
        caller.role == .admin
            ? "no such account in your organization '\(caller.organization)'"
            : "an agent may act only on its own account '\(caller.name)'"
    }
}
