/// A message from a client to the daemon. Field limits are in docs/protocol.md; the decoder
/// enforces every one of them.
public enum Request: Sendable, Equatable {
    /// Must be the first request on a connection. The magic is implied.
    case hello(minVersion: UInt16, maxVersion: UInt16)
    /// `code` is empty exactly when `codeKind` is `.none`.
    case login(user: String, password: [UInt8], codeKind: CodeKind, code: String)
    /// An empty `organization` means `default`.
    case userAdd(user: String, organization: String, role: WireRole, requireTwoFactor: Bool, password: [UInt8])
    case userSetPassword(user: String, password: [UInt8])
    case userShow(user: String)
    /// An empty `organization` means all the caller may see; an empty `after` starts at the first name.
    case userList(organization: String, after: String, limit: UInt16)
    case userRemove(user: String)
    /// `digits` 0 and `period` 0 mean the defaults (6 digits, 30 seconds).
    case enrollBegin(user: String, algorithm: WireAlgorithm, digits: UInt8, period: UInt16)
    case enrollConfirm(user: String, code: String)
    case twoFactorDisable(user: String)
    case organizationAdd(organization: String, requireTwoFactor: Bool)
    case organizationSet(organization: String, requireTwoFactor: Bool)
    case organizationShow(organization: String)
    /// An empty `after` starts at the first name.
    case organizationList(after: String, limit: UInt16)
    case organizationRemove(organization: String)
    case twoFactorForce(user: String)
    case twoFactorReset(user: String)
    case recoveryCodesIssue(user: String)
    case unlock(user: String)
    /// Empty strings and zeros mean no filter; `before` 0 starts at the newest record.
    case auditQuery(user: String, organization: String, since: UInt64, before: UInt64, limit: UInt16)
    /// A Login that also says where it comes from (PAM service, remote host). `code` is empty exactly
    /// when `codeKind` is `.none`. An `enroll` answer comes as `.enrollScreen`. Sent as LoginFromInvoker
    /// when `origin` has an invoker.
    case loginFrom(user: String, password: [UInt8], codeKind: CodeKind, code: String, origin: LoginOrigin)
    /// Checks a code without a password, for stacks where another module checked the password.
    /// Privileged peers only. An empty `code` (kind `.none`) asks what the account needs. Sent as
    /// CodeCheckFromInvoker when `origin` has an invoker.
    case codeCheck(user: String, codeKind: CodeKind, code: String, origin: LoginOrigin)
    /// Operators only: takes a consistent, compacted snapshot of the store for this connection to read.
    case backupBegin
    /// Operators only: the snapshot's bytes from `offset` on, as many as one BackupChunk carries.
    case backupRead(offset: UInt64)
    /// Operators only: re-seals every secret under a new key and replaces the key file, while serving.
    case keyRotate
    /// Ends every grace period of the account (AccessMessages.swift has the access messages' types).
    case graceRevoke(user: String)
    /// Asks for the account's running graces and exemptions; answered with AccessInfo.
    case accessShow(user: String)
    /// Changes an organization's grace period and, when `trustedNetworks` or `agentNames` is non-nil, replaces its
    /// networks or the name patterns its admin may give new agents.
    case organizationAccessSet(
        organization: String,
        gracePeriod: GracePeriodSetting,
        trustedNetworks: [String]?,
        agentNames: [String]? = nil
    )
    /// Answered with OrganizationAccess.
    case organizationAccessShow(organization: String)
    /// `until` in Unix seconds; `fromUID` nil: from any privileged peer.
    case exemptAdd(user: String, service: String, until: UInt64, fromUID: UInt32?)
    case exemptRemove(user: String, service: String)
    /// The running exemptions of a page of accounts; an empty `after` starts at the first name.
    case exemptList(after: String, limit: UInt16)
    /// Starts adding authenticator `label` to an account whose 2FA is on; answered by EnrollmentStarted.
    /// `digits` 0 and `period` 0 mean the defaults.
    case authenticatorAddBegin(user: String, label: String, algorithm: WireAlgorithm, digits: UInt8, period: UInt16)
    /// Adds the authenticator `label` being added, when `code` is right for it.
    case authenticatorAddConfirm(user: String, label: String, code: String)
    /// Answered by AuthenticatorList.
    case authenticatorList(user: String)
    case authenticatorRemove(user: String, label: String)
    /// Sets the clock drift of `label` from two codes it showed one after the other.
    case authenticatorResync(user: String, label: String, firstCode: String, secondCode: String)

    /// The first byte of this request's body.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .login: .login
        case .userAdd: .userAdd
        case .userSetPassword: .userSetPassword
        case .userShow: .userShow
        case .userList: .userList
        case .userRemove: .userRemove
        case .enrollBegin: .enrollBegin
        case .enrollConfirm: .enrollConfirm
        case .twoFactorDisable: .twoFactorDisable
        case .organizationAdd: .organizationAdd
        case .organizationSet: .organizationSet
        case .organizationShow: .organizationShow
        case .organizationList: .organizationList
        case .organizationRemove: .organizationRemove
        case .twoFactorForce: .twoFactorForce
        case .twoFactorReset: .twoFactorReset
        case .recoveryCodesIssue: .recoveryCodesIssue
        case .unlock: .unlock
        case .auditQuery: .auditQuery
        case .loginFrom(_, _, _, _, let origin): origin.invokerUID == nil ? .loginFrom : .loginFromInvoker
        case .codeCheck(_, _, _, let origin): origin.invokerUID == nil ? .codeCheck : .codeCheckFromInvoker
        case .backupBegin: .backupBegin
        case .backupRead: .backupRead
        case .keyRotate: .keyRotate
        case .graceRevoke: .graceRevoke
        case .accessShow: .accessShow
        case .organizationAccessSet: .organizationAccessSet
        case .organizationAccessShow: .organizationAccessShow
        case .exemptAdd: .exemptAdd
        case .exemptRemove: .exemptRemove
        case .exemptList: .exemptList
        case .authenticatorAddBegin: .authenticatorAddBegin
        case .authenticatorAddConfirm: .authenticatorAddConfirm
        case .authenticatorList: .authenticatorList
        case .authenticatorRemove: .authenticatorRemove
        case .authenticatorResync: .authenticatorResync
        }
    }
}

/// A message from the daemon to a client. Each answers the request with the same id.
public enum Response: Sendable, Equatable {
    /// The request failed; `message` is a sentence a person can act on.
    case error(code: ErrorCode, message: String)
    case helloReply(version: UInt16)
    /// The request succeeded and there is nothing to report.
    case done
    /// `retryAfter` is non-zero only for `.locked`; `otpauthURI` is non-empty exactly for `.enroll`.
    ///
    /// An otpauth URI holds a TOTP secret: every answer carries it as UTF-8 bytes, never a `String`, so that a
    /// client can `wipe` it once shown.
    case loginResult(outcome: LoginOutcome, retryAfter: UInt32, otpauthURI: [UInt8])
    /// `originLocks` lists the first `min(info.lockedOrigins, WireProtocol.maximumOriginLocks)` locked origins,
    /// latest failure first.
    case userInfo(AccountInfo, originLocks: [OriginLockInfo])
    /// An empty `next` means this was the last page; otherwise pass it as `after`.
    case userList([AccountInfo], next: String)
    /// `expiresAt` is in Unix seconds.
    case enrollmentStarted(otpauthURI: [UInt8], expiresAt: UInt64)
    /// Enrollment finished: one-time recovery codes to show once. Answers EnrollConfirm,
    /// RecoveryCodesIssue, and a Login that finished an enrollment (which then logged in).
    case recoveryCodes([String])
    /// A Login that used a recovery code succeeded; this many codes remain.
    case recoveryLogin(remaining: UInt8)
    case organizationInfo(OrganizationInfo)
    /// An empty `next` means this was the last page; otherwise pass it as `after`.
    case organizationList([OrganizationInfo], next: String)
    /// Newest first. `next` 0 means no older records match; otherwise pass it as `before`.
    case auditList([AuditEntry], next: UInt64)
    /// The `enroll` answer to LoginFrom and CodeCheck: the URI and, for clients that cannot draw a
    /// QR code (the C PAM module), the QR code drawn as text lines, in UTF-8: it scans to the secret, so it is
    /// bytes a client can wipe, as the URI is.
    case enrollScreen(otpauthURI: [UInt8], screen: [UInt8])
    /// The snapshot a BackupBegin took is ready on this connection and holds `size` bytes.
    case backupStarted(size: UInt64)
    /// Bytes of the snapshot starting at `offset`; fewer than the maximum only at its end.
    case backupChunk(offset: UInt64, bytes: [UInt8])
    /// Every secret of `accounts` accounts is now sealed under the new key, which is in `keyFile`.
    case keyRotated(accounts: UInt32, keyFile: String)
    /// The running graces and exemptions of one account.
    case accessInfo(graces: [GraceInfo], exemptions: [ExemptionInfo])
    case organizationAccess(OrganizationAccessInfo)
    /// An empty `next` means this was the last page; otherwise pass it as `after`.
    case exemptionList([ExemptionInfo], next: String)
    /// The authenticators of one account, in their order.
    case authenticatorList([AuthenticatorInfo])

    /// The first byte of this response's body.
    public var type: MessageType {
        switch self {
        case .error: .error
        case .helloReply: .helloReply
        case .done: .done
        case .loginResult: .loginResult
        case .userInfo: .userInfo
        case .userList: .userListReply
        case .enrollmentStarted: .enrollmentStarted
        case .recoveryCodes: .recoveryCodes
        case .recoveryLogin: .recoveryLogin
        case .organizationInfo: .organizationInfo
        case .organizationList: .organizationListReply
        case .auditList: .auditList
        case .enrollScreen: .enrollScreen
        case .backupStarted: .backupStarted
        case .backupChunk: .backupChunk
        case .keyRotated: .keyRotated
        case .accessInfo: .accessInfo
        case .organizationAccess: .organizationAccess
        case .exemptionList: .exemptionList
        case .authenticatorList: .authenticatorListReply
        }
    }
}

/// Why bytes could not be decoded, and which Error code the daemon answers with.
/// The message names the field and the rule; it never contains the bytes of a password or code.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The code to answer with. `malformedRequest`, `unknownMessageType` and `frameTooLarge`
    /// close the connection.
    public var code: ErrorCode
    /// A sentence saying what was wrong.
    public var message: String

    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    @usableFromInline static func malformed(_ message: String) -> WireError {
        WireError(code: .malformedRequest, message: message)
    }
}
