// MUSTs of several authenticators per account:
// - each authenticator keeps its own last accepted step: a code is accepted only for a step later than
//   the one recorded for the authenticator it matched, so no code works twice on any of them;
// - labels are unique within an account; the first authenticator is the one `totp` holds (the fields an
//   account had before there could be several), so records written before stay valid unchanged;
// - an account has authenticators exactly when its two-factor state is `on`.

/// The name an account gives one of its authenticators ("phone", "yubikey-backup"): 1 to 32 characters
/// of `A-Z a-z 0-9 . _ @ -`, not starting with `-` or `.`.
public struct AuthenticatorLabel: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: String

    public static let maximumLength = 32

    public init(_ value: String) throws(InvalidValue) {
        try validateIdentifier(value, kind: "an authenticator label", maximumLength: Self.maximumLength)
        self.value = value
    }

    /// The label of the authenticator enrolled with `2fa enroll` (or at a `pending` login): the one an
    /// account had before there could be several.
    public static let enrolled = try! AuthenticatorLabel("default")

    public var description: String { value }
    public static func < (lhs: AuthenticatorLabel, rhs: AuthenticatorLabel) -> Bool { lhs.value < rhs.value }
}

/// One enrolled authenticator of an account.
public struct Authenticator: Sendable, Hashable {
    public var label: AuthenticatorLabel
    public var credential: TOTPCredential
    /// The time step of its last accepted code. Its codes for this step or earlier are refused.
    public var lastAcceptedStep: UInt64?
    /// Its clock offset in steps, learned from its accepted codes (or set by a resync): its window of
    /// accepted codes is centred on the current step plus this.
    public var drift: Int32
    /// The offset its last accepted code measured (its step minus the current one), when that was within
    /// the drift bound: the drift moves only to an offset two accepted codes in a row measured.
    public var lastOffset: Int32?
    public var enrolledAt: UnixTime?

    /// The largest drift an authenticator can have, in steps either way: a resync searches this far from now,
    /// and learning from codes is bounded by `--max-drift-steps`, at most this.
    public static let largestDrift: Int32 = 10

    public init(
        label: AuthenticatorLabel,
        credential: TOTPCredential,
        lastAcceptedStep: UInt64? = nil,
        drift: Int32 = 0,
        lastOffset: Int32? = nil,
        enrolledAt: UnixTime? = nil
    ) {
        self.label = label
        self.credential = credential
        self.lastAcceptedStep = lastAcceptedStep
        self.drift = drift
        self.lastOffset = lastOffset
        self.enrolledAt = enrolledAt
    }
}

/// An authenticator being added to an account that already has one: shown as a QR code, and added only
/// once a code from it confirms it. Until then the account's authenticators stay as they were.
public struct PendingAuthenticator: Sendable, Hashable {
    public var label: AuthenticatorLabel
    public var enrollment: PendingEnrollment

    public init(label: AuthenticatorLabel, enrollment: PendingEnrollment) {
        self.label = label
        self.enrollment = enrollment
    }
}

extension Account {
    /// No account has more authenticators than this; a record with more is damage.
    public static let maximumAuthenticators = 16

    /// Every enrolled authenticator, the first being the one `totp` holds; empty when none is enrolled.
    /// Setting it keeps `totp`, `lastAcceptedStep` and `enrolledAt` as the first one's fields; setting it
    /// empty leaves `lastAcceptedStep` as it was, as turning 2FA off always did.
    public var authenticators: [Authenticator] {
        get {
            // Never hides any: without `totp` (only a hand-made value can be so), the others are still all here.
            guard let totp else { return moreAuthenticators }
            let first = Authenticator(
                label: totpLabel,
                credential: totp,
                lastAcceptedStep: lastAcceptedStep,
                drift: totpDrift,
                lastOffset: totpLastOffset,
                enrolledAt: enrolledAt
            )
            return [first] + moreAuthenticators
        }
        set {
            guard let first = newValue.first else {
                totp = nil
                enrolledAt = nil
                totpLabel = .enrolled
                totpDrift = 0
                totpLastOffset = nil
                moreAuthenticators = []
                return
            }
            totp = first.credential
            totpLabel = first.label
            lastAcceptedStep = first.lastAcceptedStep
            totpDrift = first.drift
            totpLastOffset = first.lastOffset
            enrolledAt = first.enrolledAt
            moreAuthenticators = Array(newValue.dropFirst())
        }
    }

    /// The account without what matching a TOTP code never reads: its recovery codes, pending enrollment and
    /// pending authenticator (`AccountStore.accountForCodeCheck`).
    public var forCodeCheck: Account {
        var account = self
        account.recoveryCodes = []
        account.pendingEnrollment = nil
        account.pendingAuthenticator = nil
        return account
    }

    /// The account as a login reads it (`AccountStore.accountForLogin`): with 2FA on, `forCodeCheck`, since
    /// such a login matches a TOTP code or spends a recovery code inside the write that removes it, reading
    /// nothing else; otherwise whole, since a pending account's login shows or finishes its enrollment.
    public var forLogin: Account {
        if case .on = twoFactor { forCodeCheck } else { self }
    }

    /// The index in `authenticators` of the one labelled `label`, or nil.
    public func authenticatorIndex(_ label: AuthenticatorLabel) -> Int? {
        authenticators.firstIndex { $0.label == label }
    }

    /// The replay guard's rule, the same for every backend: records `step`, the learned `drift` and the
    /// measured `offset` (`Authenticator.lastOffset`) for
    /// the authenticator labelled `label` when it still holds `credential` and `step` is later than its
    /// last accepted step; resets the failure count and records the login time. Otherwise changes nothing
    /// and returns `.replayed`. `credential` is compared as given: a backend that keeps secrets sealed
    /// compares before calling this with the opened ones (see `LMDBAccountStore.recordAcceptedStep`).
    public mutating func acceptStep(
        _ step: UInt64,
        authenticator label: AuthenticatorLabel,
        credentialMatches: (TOTPCredential) -> Bool,
        drift: Int32,
        offset: Int32?,
        at time: UnixTime
    ) -> StepAcceptance {
        var all = authenticators
        guard let index = all.firstIndex(where: { $0.label == label }) else { return .replayed }
        if let last = all[index].lastAcceptedStep, step <= last { return .replayed }
        // A reset, removal or re-enrollment between the code check and now: the code was for a secret that is gone.
        guard credentialMatches(all[index].credential) else { return .replayed }
        all[index].lastAcceptedStep = step
        all[index].drift = drift
        all[index].lastOffset = offset
        authenticators = all
        failureCount = 0
        lastLoginAt = time
        updatedAt = time
        return .accepted
    }
}
