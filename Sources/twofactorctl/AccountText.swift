import CommandLineUI
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

    static func details(_ info: AccountInfo) -> String {
        let (state, enabledBy) = state(info.twoFactor)
        var lines = [
            "user:         \(info.user)",
            "organization: \(info.organization)",
            "role:         \(role(info.role))",
            "2fa:          \(state)" + (enabledBy.map { " (\($0))" } ?? ""),
        ]
        if info.digits > 0 {
            lines.append("totp:         \(algorithm(info.algorithm)), \(info.digits) digits, \(info.period) s")
        }
        lines.append("failures:     \(info.failureCount)")
        return lines.joined(separator: "\n")
    }

    static func table(_ infos: [AccountInfo]) -> String {
        let header = ["USER", "ORGANIZATION", "ROLE", "2FA"]
        let rows = infos.map { info -> [String] in
            let (state, enabledBy) = state(info.twoFactor)
            return [info.user, info.organization, role(info.role), state + (enabledBy.map { "/\($0)" } ?? "")]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }.joined() + "\n"
        }.joined()
    }

    static func json(_ info: AccountInfo) -> JSONValue {
        let (state, enabledBy) = state(info.twoFactor)
        var members: [(String, JSONValue)] = [
            ("user", .string(info.user)),
            ("organization", .string(info.organization)),
            ("role", .string(role(info.role))),
            ("twoFactor", .string(state)),
            ("enabledBy", enabledBy.map { .string($0) } ?? .null),
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
            ("failureCount", .number(Int64(info.failureCount))),
            ("createdAt", .number(Int64(info.createdAt))),
            ("updatedAt", .number(Int64(info.updatedAt))),
        ]
        return .object(members)
    }
}
