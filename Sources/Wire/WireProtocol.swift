/// The constants of protocol version 1, as docs/protocol.md states them.
public enum WireProtocol {
    /// The four ASCII bytes "TFAD" that open every Hello.
    public static let magic: [UInt8] = Array("TFAD".utf8)

    /// The only version this build speaks.
    public static let currentVersion: UInt16 = 1

    /// The largest request body the daemon accepts (the 4-byte length prefix is not counted).
    public static let maximumRequestBodyLength = 1024

    /// The largest response body a client accepts (the 4-byte length prefix is not counted).
    public static let maximumResponseBodyLength = 65536

    /// Every body holds at least the message type (1 byte) and the request id (4 bytes).
    public static let minimumBodyLength = 5

    /// The length of the length prefix in front of every body.
    public static let headerLength = 4

    /// The most bytes one encoded AccountInfo record can take: three strings of at most 64 bytes with
    /// their length prefixes (user, organization, the name of who set the state) and 64 bytes of numbers.
    public static let maximumAccountInfoLength =
        (2 + 64) + (2 + 64) + 1 + 1 + 1 + 1 + 2 + 4 + 8 + 8 + (1 + 4 + 2 + 64) + 8 + 8 + 8 + 1 + 8 + 4

    /// The most locked origins one UserInfo lists; AccountInfo's `lockedOrigins` counts the others too.
    public static let maximumOriginLocks = 20

    /// The most records a UserList answer may carry, and the largest `limit` a request may ask for: as
    /// many of the largest records as fit in one response body with the type, id, count and `next`.
    public static let maximumPageSize =
        (maximumResponseBodyLength - minimumBodyLength - 2 - (2 + 64)) / maximumAccountInfoLength

    /// The most bytes one OrganizationInfo record can take.
    public static let maximumOrganizationInfoLength = (2 + 64) + 1 + 4 + 8 + 8

    /// The most records an OrganizationList answer may carry, and the largest `limit` a request may ask for.
    public static let maximumOrganizationPageSize =
        (maximumResponseBodyLength - minimumBodyLength - 2 - (2 + 64)) / maximumOrganizationInfoLength

    /// The most bytes one AuditEntry record can take.
    public static let maximumAuditEntryLength =
        8 + 8 + (1 + 4 + 2 + 64) + (2 + 64) + (2 + 64) + (2 + 32) + (2 + 32) + (2 + 128)

    /// The most records an AuditList answer may carry, and the largest `limit` an AuditQuery may ask for.
    public static let maximumAuditPageSize =
        (maximumResponseBodyLength - minimumBodyLength - 2 - 8) / maximumAuditEntryLength

    /// The most bytes of a backup one BackupChunk answer carries: what fits beside its offset.
    public static let maximumBackupChunkLength = maximumResponseBodyLength - minimumBodyLength - 8 - 2

    /// The most recovery codes one RecoveryCodes answer carries.
    public static let maximumRecoveryCodes = 16

    /// The version both sides speak, given the range a client offered in its Hello: the highest
    /// version in `minVersion...maxVersion` that this build supports, or nil when there is none
    /// (the daemon then answers Error `unsupportedVersion` and closes).
    public static func negotiatedVersion(minVersion: UInt16, maxVersion: UInt16) -> UInt16? {
        minVersion <= currentVersion && currentVersion <= maxVersion ? currentVersion : nil
    }
}

/// The first byte of every body. Requests use 0x01-0x7F, responses 0x80-0xFF.
public enum MessageType: UInt8, Sendable, Hashable, CaseIterable {
    case hello = 0x01
    case login = 0x10
    case userAdd = 0x20
    case userSetPassword = 0x21
    case userShow = 0x22
    case userList = 0x23
    case userRemove = 0x24
    case enrollBegin = 0x30
    case enrollConfirm = 0x31
    case organizationAdd = 0x25
    case organizationSet = 0x26
    case organizationShow = 0x27
    case organizationList = 0x28
    case organizationRemove = 0x29
    case twoFactorDisable = 0x32
    case twoFactorForce = 0x33
    case twoFactorReset = 0x34
    case recoveryCodesIssue = 0x35
    case unlock = 0x36
    case auditQuery = 0x40
    case loginFrom = 0x11
    case codeCheck = 0x12
    case loginFromInvoker = 0x13
    case codeCheckFromInvoker = 0x14
    case backupBegin = 0x50
    case backupRead = 0x51
    case keyRotate = 0x52
    case graceRevoke = 0x48
    case accessShow = 0x49
    case organizationAccessSet = 0x4A
    case organizationAccessShow = 0x4B
    case exemptAdd = 0x4C
    case exemptRemove = 0x4D
    case exemptList = 0x4E
    case authenticatorAddBegin = 0x41
    case authenticatorAddConfirm = 0x42
    case authenticatorList = 0x43
    case authenticatorRemove = 0x44
    case authenticatorResync = 0x45

    case error = 0x80
    case helloReply = 0x81
    case done = 0x82
    case loginResult = 0x90
    case userInfo = 0x91
    case userListReply = 0x92
    case enrollmentStarted = 0x93
    case recoveryCodes = 0x94
    case recoveryLogin = 0x95
    case organizationInfo = 0x96
    case organizationListReply = 0x97
    case auditList = 0x98
    case enrollScreen = 0xA0
    case backupStarted = 0xA8
    case backupChunk = 0xA9
    case keyRotated = 0xAA
    case accessInfo = 0xBC
    case organizationAccess = 0xBD
    case exemptionList = 0xBE
    case authenticatorListReply = 0xB8

    /// True for the types a client sends.
    public var isRequest: Bool { rawValue < 0x80 }
}
