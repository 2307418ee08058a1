import CommandLineUI
import UserDatabase
import Wire

/// How accounts are shown: a block for one, a table for many, JSON for scripts.
enum AccountText {
    static func state(_ state: WireTwoFactorState) -> (name: String, enabledBy: String?) {
        switch state {
        case .off: ("off", nil)
        case .pending: ("pending", nil)
        case .onSelf: ("on", "self")
        case .onEnforced: ("on", "enforced")
        }
    }

    static func role(_ role: WireRole) -> String { role == .admin ? "admin" : "agent" }

    static func algorithm(_ algorithm: WireAlgorithm) -> String {
        switch algorithm {
        case .sha256: "SHA256"
        case .sha512: "SHA512"
        default: "SHA1"
        }
    }

    static func actor(_ actor: ActorInfo) -> String? {
        switch actor {
        case .none: nil
        case .operator(let uid): "operator (uid \(uid))"
        case .account(let name): name
        case .daemon: "twofactord"
        }
    }

    /// What the state means for who may undo it, in one phrase.
    static func stateExplanation(_ state: WireTwoFactorState) -> String {
        switch state {
        case .off: "off"
        case .pending: "pending (required; enrolls at the next login)"
        case .onSelf: "on (self: the account may turn it off with its password and code)"
        case .onEnforced: "on (enforced: only an admin or operator may turn it off)"
        }
    }

    static func details(_ info: AccountInfo) -> String {
        var lines = [
            "user:           \(info.user)",
            "organization:   \(info.organization)",
            "role:           \(role(info.role))",
            "2fa:            \(stateExplanation(info.twoFactor))",
        ]
        if let setBy = actor(info.stateSetBy) {
            lines.append("2fa set by:     \(setBy), \(TimeText.format(info.stateSetAt))")
        }
        if info.digits > 0 {
            lines.append("totp:           \(algorithm(info.algorithm)), \(info.digits) digits, \(info.period) s")
        }
        if info.enrolledAt > 0 { lines.append("enrolled:       \(TimeText.format(info.enrolledAt))") }
        if info.digits > 0 { lines.append("recovery codes: \(info.recoveryCodes) left") }
        lines.append("last login:     " + (info.lastLoginAt > 0 ? TimeText.format(info.lastLoginAt) : "never"))
        lines.append("failures:       \(info.failureCount)")
        if info.lockedUntil > 0 { lines.append("locked:         \(lockText(info.lockedUntil))") }
        return lines.joined(separator: "\n")
    }

    /// One line per locked origin, e.g. `locked for uid 65534 (nobody) until 2026-11-29 08:15:36 UTC, 6 failures`,
    /// and how many more there are.
    static func originLockLines(_ info: AccountInfo, _ locks: [OriginLockInfo]) -> [String] {
        var lines = locks.map { lock in
            let failures = lock.failures == 1 ? "1 failure" : "\(lock.failures) failures"
            return "locked for \(originText(lock.origin)) until \(TimeText.format(lock.lockedUntil)), \(failures)"
        }
        let unlisted = Int(info.lockedOrigins) - locks.count
        if unlisted > 0 {
            lines.append(
                "locked for \(unlisted) more origin\(unlisted == 1 ? "" : "s") (twofactorctl unlock clears all)"
            )
        }
        return lines
    }

    static func originText(_ origin: OriginLockInfo.Origin) -> String {
        switch origin {
        case .uid(let uid): "uid \(uid)" + (UserDatabase.user(withUID: uid).map { " (\($0.name))" } ?? "")
        case .host(let host): "host \(host)"
        case .local: "local logins (console, sudo)"
        }
    }

    /// The LOCKED column: the account-wide lock, else whether any origin is locked out.
    static func lockColumn(_ info: AccountInfo) -> String {
        if info.lockedUntil > 0 { return lockText(info.lockedUntil) }
        switch info.lockedOrigins {
        case 0: return "no"
        case 1: return "yes (1 origin)"
        default: return "yes (\(info.lockedOrigins) origins)"
        }
    }

    /// A lock's end, or that it lasts until an admin or operator unlocks the account.
    static func lockText(_ lockedUntil: UInt64) -> String {
        lockedUntil >= UInt64(Int64.max)
            ? "until unlocked (too many failures)" : "until " + TimeText.format(lockedUntil)
    }

    static func table(_ infos: [AccountInfo]) -> String {
        TextTable.render(
            header: ["USER", "ORGANIZATION", "ROLE", "2FA", "SET BY", "LAST LOGIN", "LOCKED"],
            rows: infos.map { info in
                let (state, enabledBy) = state(info.twoFactor)
                return [
                    info.user, info.organization, role(info.role), state + (enabledBy.map { "/\($0)" } ?? ""),
                    actor(info.stateSetBy) ?? "-",
                    info.lastLoginAt > 0 ? TimeText.format(info.lastLoginAt) : "never",
                    lockColumn(info),
                ]
            }
        )
    }

    static func json(_ actor: ActorInfo) -> JSONValue {
        switch actor {
        case .none: .null
        case .operator(let uid): .object([("operator", .number(Int64(uid)))])
        case .account(let name): .object([("account", .string(name))])
        case .daemon: .object([("daemon", .bool(true))])
        }
    }

    static func json(_ info: AccountInfo) -> JSONValue {
        let (state, enabledBy) = state(info.twoFactor)
        let time = { (value: UInt64) -> JSONValue in value == 0 ? .null : .number(Int64(clamping: value)) }
        var members: [(String, JSONValue)] = [
            ("user", .string(info.user)),
            ("organization", .string(info.organization)),
            ("role", .string(role(info.role))),
            ("twoFactor", .string(state)),
            ("enabledBy", enabledBy.map { .string($0) } ?? .null),
            ("stateSetBy", json(info.stateSetBy)),
            ("stateSetAt", time(info.stateSetAt)),
        ]
        if info.digits > 0 {
            members.append(
                (
                    "totp",
                    .object([
                        ("algorithm", .string(algorithm(info.algorithm))),
                        ("digits", .number(Int64(info.digits))),
                        ("period", .number(Int64(info.period))),
                    ])
                )
            )
        }
        members += [
            ("enrolledAt", time(info.enrolledAt)),
            ("recoveryCodes", .number(Int64(info.recoveryCodes))),
            ("lastLoginAt", time(info.lastLoginAt)),
            ("failureCount", .number(Int64(info.failureCount))),
            ("lockedUntil", time(info.lockedUntil)),
            ("lockedOrigins", .number(Int64(info.lockedOrigins))),
            ("createdAt", .number(Int64(clamping: info.createdAt))),
            ("updatedAt", .number(Int64(clamping: info.updatedAt))),
        ]
        return .object(members)
    }

    /// `{"origin": "uid", "uid": 65534, ...}`, `{"origin": "host", "host": "192.0.2.7", ...}` or `{"origin": "local", ...}`.
    static func json(_ lock: OriginLockInfo) -> JSONValue {
        let origin: [(String, JSONValue)] =
            switch lock.origin {
            case .uid(let uid): [("origin", .string("uid")), ("uid", .number(Int64(uid)))]
            case .host(let host): [("origin", .string("host")), ("host", .string(host))]
            case .local: [("origin", .string("local"))]
            }
        return .object(
            origin + [
                ("failures", .number(Int64(lock.failures))),
                ("lockedUntil", .number(Int64(clamping: lock.lockedUntil))),
            ]
        )
    }
}
