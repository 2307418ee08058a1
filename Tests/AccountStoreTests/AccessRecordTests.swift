import AccountStore
import Testing

@testable import StoredRecords

// Format 3 of the account record (graces and exemptions), format 2 of the organization record
// (grace period and trusted networks), and the network type they store.

private let base = Account(
    name: try! AccountName("ann"),
    passwordHash: "$scrypt$x",
    twoFactor: .on(.self),
    createdAt: 1,
    updatedAt: 2
)

private func withGrants(_ account: Account) -> Account {
    var account = account
    account.graces = [
        Grace(key: .remoteHost("2001:db8::7"), grantedAt: 10, expiresAt: 310),
        Grace(key: .session(LoginSession(boot: Array(1...16), id: 4_294_967_294)), grantedAt: -1, expiresAt: .max),
    ]
    account.exemptions = [
        Exemption(service: "cron", fromUID: 998, until: 99, grantedBy: .operator(uid: 0), grantedAt: 5),
        Exemption(
            service: "sshd",
            fromUID: nil,
            until: 100,
            grantedBy: .account(try! AccountName("amy")),
            grantedAt: 6
        ),
    ]
    return account
}

@Test func accountRecord_roundTripsGracesAndExemptions() throws {
    let account = withGrants(base)
    let bytes = AccountRecord.encode(account)
    #expect(bytes.first == AccountRecord.formatVersion)
    #expect(try AccountRecord.decode(bytes) == account)
}

@Test func accountRecord_format2_stillDecodes_withoutGrants() throws {
    // A format-2 record is a format-3 record of an account without grants or more authenticators, minus
    // the access section's two empty counts and the authenticators section (label 'default', drift,
    // count, pending: 20 bytes).
    var bytes = AccountRecord.encode(base)
    #expect(bytes.suffix(8) == [0, 0, 0, 0, 0, 0, 0, 0])
    bytes.removeLast(8 + 20)
    bytes[0] = 2
    #expect(try AccountRecord.decode(bytes) == base)
}

@Test func accountRecord_refusesDamagedAccessSections() throws {
    let bytes = AccountRecord.encode(withGrants(base))
    // Every truncation is refused, never misread.
    for length in 0..<bytes.count {
        #expect(throws: RecordDecodingError.self) { try AccountRecord.decode(Array(bytes.prefix(length))) }
    }
    // An unknown grace key kind.
    var unknownKind = AccountRecord.encode(base)
    unknownKind.removeLast(8)
    unknownKind += [0, 0, 0, 1, 9, 0, 0, 0, 0]
    #expect(throws: RecordDecodingError.self) { try AccountRecord.decode(unknownKind) }
    // More graces than an account may hold.
    var tooMany = AccountRecord.encode(base)
    tooMany.removeLast(8)
    tooMany += [0, 0, 0, UInt8(Account.maximumGraces + 1), 0, 0, 0, 0]
    #expect(throws: RecordDecodingError.self) { try AccountRecord.decode(tooMany) }
}

@Test func organizationRecord_format3_roundTrips_andFormats1And2StillDecode() throws {
    var organization = Organization(
        name: try OrganizationName("acme"),
        requiresTwoFactor: true,
        createdAt: 1,
        updatedAt: 2
    )
    let format1: [UInt8] =
        [1, 0, 0, 0, 4] + Array("acme".utf8) + [1] + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 2]
    #expect(try OrganizationRecord.decode(format1) == organization)

    organization.gracePeriod = 300
    organization.trustedNetworks = [
        try IPNetwork("192.0.2.0/24"), try IPNetwork("2001:db8::/32"), try IPNetwork("0.0.0.0/0"),
    ]
    // Format 2 ends after the trusted networks: an organization of before agent names, whose admin adds none.
    let format2: [UInt8] =
        [2, 0, 0, 0, 4] + Array("acme".utf8) + [1] + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 2]
        + [1, 0, 0, 0, 0, 0, 0, 1, 44] + [0, 0, 0, 1, 0, 0, 0, 4, 192, 0, 2, 0, 24]
    var asFormat2 = organization
    asFormat2.trustedNetworks = [try IPNetwork("192.0.2.0/24")]
    #expect(try OrganizationRecord.decode(format2) == asFormat2)

    organization.agentNames = [try AccountNamePattern("acme-*"), try AccountNamePattern("ann")]
    let bytes = OrganizationRecord.encode(organization)
    #expect(bytes.first == 3)
    #expect(try OrganizationRecord.decode(bytes) == organization)
    for length in 0..<bytes.count {
        #expect(throws: RecordDecodingError.self) { try OrganizationRecord.decode(Array(bytes.prefix(length))) }
    }
    // A stored network with host bits set is damage, not a network.
    var hostBits = OrganizationRecord.encode(
        Organization(name: try OrganizationName("acme"), createdAt: 1, updatedAt: 2)
    )
    hostBits.removeLast(8)
    hostBits += [0, 0, 0, 1, 0, 0, 0, 4, 10, 0, 0, 1, 8] + [0, 0, 0, 0]
    #expect(throws: RecordDecodingError.self) { try OrganizationRecord.decode(hostBits) }
    // So is a stored pattern that is no pattern.
    var badPattern = OrganizationRecord.encode(
        Organization(name: try OrganizationName("acme"), createdAt: 1, updatedAt: 2)
    )
    badPattern.removeLast(4)
    badPattern += [0, 0, 0, 1, 0, 0, 0, 3] + Array("a b".utf8)
    #expect(throws: RecordDecodingError.self) { try OrganizationRecord.decode(badPattern) }
}

@Test func agentNamePattern_matchesWhatItsWildcardsStandFor_andNothingElse() throws {
    func matches(_ pattern: String, _ name: String) throws -> Bool {
        try AccountNamePattern(pattern).matches(try AccountName(name))
    }
    #expect(try matches("ann", "ann") && !matches("ann", "anna") && !matches("ann", "an") && !matches("ann", "Ann"))
    #expect(try matches("acme-*", "acme-") && matches("acme-*", "acme-bob") && !matches("acme-*", "acme"))
    #expect(try !matches("acme-*", "root") && !matches("acme-*", "xacme-bob"))
    #expect(
        try matches("*", "root") && matches("*-ops", "a-ops") && matches("*-ops", "b-ops")
            && !matches("*-ops", "b-opsx")
    )
    #expect(try matches("a?c", "abc") && !matches("a?c", "ac") && !matches("a?c", "abbc"))
    // A star that must give back what it took, more than once.
    #expect(try matches("*a*b", "xaab") && matches("a*b*c", "abbbcbc") && !matches("a*b*c", "abbbcb"))
    #expect(try matches("**x", "x") && !matches("*x*y", "yx"))

    for bad in ["", "a b", "-*", ".*", "a/b", String(repeating: "*", count: 65)] {
        #expect(throws: InvalidValue.self, "\(bad)") { try AccountNamePattern(bad) }
    }
}

@Test func ipNetwork_matchesAddressesOfItsFamilyOnly_andNeverANames() throws {
    let v4 = try IPNetwork("192.0.2.0/24")
    #expect(v4.contains(host: "192.0.2.0") && v4.contains(host: "192.0.2.255"))
    #expect(v4.contains(host: "::ffff:192.0.2.1"))
    #expect(!v4.contains(host: "192.0.3.0") && !v4.contains(host: "192.0.2.1.example") && !v4.contains(host: ""))
    #expect(!v4.contains(host: " 192.0.2.1") && !v4.contains(host: "example.com") && !v4.contains(host: "::c000:201"))
    let v6 = try IPNetwork("2001:db8::/32")
    #expect(
        v6.contains(host: "2001:db8:ffff::1") && !v6.contains(host: "2001:db9::1") && !v6.contains(host: "192.0.2.1")
    )
    #expect(!v6.contains(host: "2001:db8::1%eth0"))
    let one = try IPNetwork("198.51.100.7")
    #expect(
        one.description == "198.51.100.7/32" && one.contains(host: "198.51.100.7")
            && !one.contains(host: "198.51.100.8")
    )
    #expect(try IPNetwork("10.0.0.0/8").description == "10.0.0.0/8")
    #expect(try IPNetwork("2001:DB8:0::/48").description == "2001:db8::/48")
    #expect(try IPNetwork("0.0.0.0/0").contains(host: "203.0.113.9"))
    for text in [
        "10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/ 8", "example.com/8", "10.0.0.0/8/8", "",
    ] {
        #expect(throws: InvalidValue.self, "\(text)") { try IPNetwork(text) }
    }
}

@Test func accountRecord_sessionGraceOfBeforeBoots_stillDecodes_andMatchesNoSession() throws {
    // Key kind 2: a session number alone, which names another session after a reboot or on another host.
    var bytes = AccountRecord.encode(base)
    bytes.removeLast(8)
    bytes += [0, 0, 0, 1, 2, 0, 0, 0, 7] + [0, 0, 0, 0, 0, 0, 0, 10] + [0, 0, 0, 0, 0, 0, 1, 54] + [0, 0, 0, 0]
    let account = try AccountRecord.decode(bytes)
    #expect(account.graces == [Grace(key: .session(LoginSession(boot: [], id: 7)), grantedAt: 10, expiresAt: 310)])
    for boot in [[UInt8](repeating: 0, count: 16), Array(1...16)] {
        #expect(account.activeGrace(for: .session(LoginSession(boot: boot, id: 7)), at: 20) == nil)
    }
    // A boot id that is not 16 bytes is damage.
    var shortBoot = AccountRecord.encode(base)
    shortBoot.removeLast(8)
    shortBoot += [0, 0, 0, 1, 3, 0, 0, 0, 2, 1, 2, 0, 0, 0, 7] + Array(repeating: 0, count: 16) + [0, 0, 0, 0]
    #expect(throws: RecordDecodingError.self) { try AccountRecord.decode(shortBoot) }
}

@Test func account_graces_areBoundedAndExpire() throws {
    let boot: [UInt8] = Array(repeating: 7, count: 16)
    var account = base
    for index in 0..<(Account.maximumGraces + 3) {
        account.grantGrace(.session(LoginSession(boot: boot, id: UInt32(index))), seconds: 100 + Int64(index), now: 0)
    }
    #expect(account.graces.count == Account.maximumGraces)
    // The ones ending first made room.
    #expect(account.activeGrace(for: .session(LoginSession(boot: boot, id: 0)), at: 0) == nil)
    #expect(
        account.activeGrace(for: .session(LoginSession(boot: boot, id: UInt32(Account.maximumGraces + 2))), at: 0)
            != nil
    )
    // A grace ends at its expiry, not one second later.
    #expect(account.activeGrace(for: .session(LoginSession(boot: boot, id: 5)), at: 104) != nil)
    #expect(account.activeGrace(for: .session(LoginSession(boot: boot, id: 5)), at: 105) == nil)
    let swept = account.sweepExpiredGrants(at: 105)
    #expect(swept)
    #expect(account.graces.allSatisfy { $0.expiresAt > 105 })
}
