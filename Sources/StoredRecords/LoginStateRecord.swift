import AccountStore

/// What a login changes in an account: each authenticator's last accepted step, drift and last offset, the
/// failure count and the login times. The LMDB store keeps it apart from the account's record, so that a
/// login rewrites a small entry in a dense database instead of the whole record (docs/performance.md).
package struct LoginState: Sendable, Hashable {
    package struct AuthenticatorState: Sendable, Hashable {
        package var label: AuthenticatorLabel
        package var lastAcceptedStep: UInt64?
        package var drift: Int32
        package var lastOffset: Int32?
    }

    /// The account's own last accepted step, which outlives its authenticators when 2FA is turned off.
    package var lastAcceptedStep: UInt64?
    package var authenticators: [AuthenticatorState]
    package var failureCount: UInt32
    package var lastFailureAt: UnixTime?
    package var lastLoginAt: UnixTime?
    package var updatedAt: UnixTime
}

extension LoginState {
    package init(of account: Account) {
        lastAcceptedStep = account.lastAcceptedStep
        authenticators = account.authenticators.map {
            AuthenticatorState(
                label: $0.label,
                lastAcceptedStep: $0.lastAcceptedStep,
                drift: $0.drift,
                lastOffset: $0.lastOffset
            )
        }
        failureCount = account.failureCount
        lastFailureAt = account.lastFailureAt
        lastLoginAt = account.lastLoginAt
        updatedAt = account.updatedAt
    }

    /// `account` with every field of this state replacing its own; nil when the account's authenticators are
    /// not the ones, in the same order, that this state was taken from.
    package func applied(to account: Account) -> Account? {
        var result = account
        var all = result.authenticators
        guard all.map(\.label) == authenticators.map(\.label) else { return nil }
        for index in all.indices {
            all[index].lastAcceptedStep = authenticators[index].lastAcceptedStep
            all[index].drift = authenticators[index].drift
            all[index].lastOffset = authenticators[index].lastOffset
        }
        result.lastAcceptedStep = lastAcceptedStep
        if !all.isEmpty { result.authenticators = all }
        result.failureCount = failureCount
        result.lastFailureAt = lastFailureAt
        result.lastLoginAt = lastLoginAt
        result.updatedAt = updatedAt
        return result
    }
}

/// The byte format of a `LoginState` (the LMDB store's `logins` database):
/// ```
/// u8 format version (1), optional u64 account's last accepted step, u32 failure count,
/// optional i64 last failure, optional i64 last login, i64 updated at,
/// u8 authenticator count, then per authenticator: str label, optional u64 last accepted step,
/// i64 drift, optional i64 last offset
/// ```
/// Decoding is strict like `AccountRecord`'s and never traps.
package enum LoginStateRecord {
    package static let formatVersion: UInt8 = 1

    package static func encode(_ state: LoginState) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(formatVersion)
        writer.optional(state.lastAcceptedStep) { $0.u64($1) }
        writer.u32(state.failureCount)
        writer.optional(state.lastFailureAt) { $0.i64($1) }
        writer.optional(state.lastLoginAt) { $0.i64($1) }
        writer.i64(state.updatedAt)
        writer.u8(UInt8(state.authenticators.count))
        for authenticator in state.authenticators {
            writer.string(authenticator.label.value)
            writer.optional(authenticator.lastAcceptedStep) { $0.u64($1) }
            writer.i64(Int64(authenticator.drift))
            writer.optional(authenticator.lastOffset) { $0.i64(Int64($1)) }
        }
        return writer.bytes
    }

    package static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> LoginState {
        var reader = ByteReader(bytes)
        guard try reader.u8() == formatVersion else { throw RecordDecodingError("unknown login state format") }
        let lastAcceptedStep = try reader.optional { (reader) throws(RecordDecodingError) in try reader.u64() }
        let failureCount = try reader.u32()
        let lastFailureAt = try reader.optional { (reader) throws(RecordDecodingError) in try reader.i64() }
        let lastLoginAt = try reader.optional { (reader) throws(RecordDecodingError) in try reader.i64() }
        let updatedAt = try reader.i64()
        let count = Int(try reader.u8())
        guard count <= Account.maximumAuthenticators else { throw RecordDecodingError("too many authenticators") }
        var authenticators: [LoginState.AuthenticatorState] = []
        for _ in 0..<count {
            guard let label = try? AuthenticatorLabel(try reader.string()) else {
                throw RecordDecodingError("invalid authenticator label")
            }
            let step = try reader.optional { (reader) throws(RecordDecodingError) in try reader.u64() }
            let drift = try int32(reader.i64())
            let offset = try reader.optional { (reader) throws(RecordDecodingError) in try int32(reader.i64()) }
            authenticators.append(.init(label: label, lastAcceptedStep: step, drift: drift, lastOffset: offset))
        }
        guard reader.isAtEnd else { throw RecordDecodingError("bytes after the login state") }
        return LoginState(
            lastAcceptedStep: lastAcceptedStep,
            authenticators: authenticators,
            failureCount: failureCount,
            lastFailureAt: lastFailureAt,
            lastLoginAt: lastLoginAt,
            updatedAt: updatedAt
        )
    }

    private static func int32(_ value: Int64) throws(RecordDecodingError) -> Int32 {
        guard let narrow = Int32(exactly: value) else { throw RecordDecodingError("drift out of range") }
        return narrow
    }
}
