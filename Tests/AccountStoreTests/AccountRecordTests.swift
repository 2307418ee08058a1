import AccountStore
import OneTimePassword
import Testing

@testable import LMDBAccountStore
import TestSupport
@testable import StoredRecords

private func name(_ text: String) -> AccountName { try! AccountName(text) }

/// An account with every optional field set and non-default values everywhere.
private let fullAccount = Account(
    name: name("alice@example"),
    organization: try! OrganizationName("support-eu"),
    role: .admin,
    passwordHash: "$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA",
    twoFactor: .on(.enforced),
    totp: TOTPCredential(
        secret: Array(0..<20),
        parameters: TOTPParameters(algorithm: .sha512, digits: 8, period: 60)
    ),
    lastAcceptedStep: 58_000_123,
    pendingEnrollment: PendingEnrollment(
        credential: TOTPCredential(secret: [0xff, 0, 0x80], parameters: .standard),
        expiresAt: 1_750_000_600
    ),
    failureCount: 3,
    lastFailureAt: 1_749_999_999,
    createdAt: -5,
    updatedAt: 1_750_000_000,
    twoFactorChange: StateChange(actor: .account(name("boss")), time: 1_749_000_000),
    enrolledAt: 1_749_500_000,
    lastLoginAt: 1_750_000_000,
    recoveryCodes: [
        RecoveryCodeHash(salt: Array(0..<16), digest: Array(repeating: 0xAB, count: 32)),
        RecoveryCodeHash(salt: [1], digest: [2]),
    ],
    totpLabel: try! AuthenticatorLabel("laptop"),
    totpDrift: -3,
    totpLastOffset: -2,
    moreAuthenticators: [
        Authenticator(
            label: try! AuthenticatorLabel("phone"),
            credential: TOTPCredential(secret: [9, 8, 7], parameters: .standard),
            lastAcceptedStep: 58_000_100,
            drift: 2,
            lastOffset: 1,
            enrolledAt: 1_749_600_000
        ),
        Authenticator(
            label: try! AuthenticatorLabel("backup@home"),
            credential: TOTPCredential(
                secret: [1],
                parameters: TOTPParameters(algorithm: .sha256, digits: 7, period: 10)
            )
        ),
    ],
    pendingAuthenticator: PendingAuthenticator(
        label: try! AuthenticatorLabel("tablet"),
        enrollment: PendingEnrollment(credential: TOTPCredential(secret: [4, 4], parameters: .standard), expiresAt: 99)
    )
)

private let minimalAccount = Account(name: name("bob"), passwordHash: "", createdAt: 0, updatedAt: 0)

@Test func record_roundTrips_everyField() throws {
    #expect(try AccountRecord.decode(AccountRecord.encode(fullAccount)) == fullAccount)
    #expect(try AccountRecord.decode(AccountRecord.encode(minimalAccount)) == minimalAccount)
}

@Test(arguments: [TwoFactorState.off, .pending, .on(.self), .on(.enforced)])
func record_roundTrips_everyTwoFactorState(_ state: TwoFactorState) throws {
    var account = fullAccount
    account.twoFactor = state
    #expect(try AccountRecord.decode(AccountRecord.encode(account)) == account)
}

@Test(arguments: [Actor.operator(uid: 0), .operator(uid: .max), .account(name("x")), .system])
func record_roundTrips_everyActor(_ actor: Actor) throws {
    var account = fullAccount
    account.twoFactorChange = StateChange(actor: actor, time: 7)
    #expect(try AccountRecord.decode(AccountRecord.encode(account)) == account)
}

@Test(arguments: OTPAlgorithm.allCases)
func record_roundTrips_everyAlgorithm(_ algorithm: OTPAlgorithm) throws {
    var account = minimalAccount
    account.totp = TOTPCredential(
        secret: [1, 2, 3],
        parameters: TOTPParameters(algorithm: algorithm, digits: 7, period: 1)
    )
    #expect(try AccountRecord.decode(AccountRecord.encode(account)) == account)
}

/// The bytes of the minimal account written out by hand from the format described in AccountRecord.swift,
/// so a change to the layout is noticed rather than silently making existing records unreadable.
@Test func record_minimalAccount_hasTheDocumentedLayout() throws {
    let versionTwo: [UInt8] =
        [2]  // format version
        + [0, 0, 0, 3] + Array("bob".utf8)  // name
        + [0, 0, 0, 7] + Array("default".utf8)  // organization
        + [1]  // role agent
        + [0, 0, 0, 0]  // empty password hash
        + [0]  // two-factor off
        + [0, 0, 0]  // no totp, no last step, no pending enrollment
        + [0, 0, 0, 0]  // failure count
        + [0]  // no last failure
        + [UInt8](repeating: 0, count: 16)  // createdAt, updatedAt
        + [0, 0, 0]  // no state change, enrollment time or login time
        + [0, 0, 0, 0]  // no recovery codes
    let authenticators: [UInt8] =
        [0, 0, 0, 7] + Array("default".utf8)  // the first authenticator's label
        + [0, 0, 0, 0]  // its drift
        + [0, 0, 0, 0]  // no more authenticators
        + [0]  // no authenticator being added
    let access: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0]  // no graces, no exemptions
    // No authenticator, so the offsets section (version 4) is empty.
    let expected = [4] + versionTwo.dropFirst() + authenticators + access
    #expect(AccountRecord.encode(minimalAccount) == expected)
    // Version 3 (before measured offsets), version 2 (before several authenticators and access grants) and
    // version 1 (the first release: the fields up to updatedAt) still read.
    #expect(try AccountRecord.decode([3] + versionTwo.dropFirst() + authenticators + access) == minimalAccount)
    #expect(try AccountRecord.decode(versionTwo) == minimalAccount)
    let versionOne = [1] + versionTwo.dropFirst().dropLast(7)
    #expect(try AccountRecord.decode(Array(versionOne)) == minimalAccount)
}

/// Version 4 appends each authenticator's measured offset, the first's then the others' in order: a
/// version 3 record of the same account reads with none.
@Test func record_offsets_areTheLastSection_andVersion3ReadsWithout() throws {
    var account = minimalAccount
    account.totp = TOTPCredential(secret: [1, 2, 3], parameters: .standard)
    account.totpLastOffset = -1
    account.moreAuthenticators = [
        Authenticator(label: try AuthenticatorLabel("phone"), credential: account.totp!, lastOffset: nil),
        Authenticator(label: try AuthenticatorLabel("key"), credential: account.totp!, lastOffset: 2),
    ]
    let bytes = AccountRecord.encode(account)
    let offsets: [UInt8] = [1, 0xff, 0xff, 0xff, 0xff] + [0] + [1, 0, 0, 0, 2]
    #expect(Array(bytes.suffix(offsets.count)) == offsets)
    let versionThree = [3] + bytes.dropFirst().dropLast(offsets.count)
    var withoutOffsets = account
    withoutOffsets.totpLastOffset = nil
    withoutOffsets.moreAuthenticators[1].lastOffset = nil
    #expect(try AccountRecord.decode(Array(versionThree)) == withoutOffsets)
}

@Test func record_duplicateOrInvalidAuthenticatorLabels_areRejected() {
    var twice = fullAccount
    twice.moreAuthenticators[1].label = twice.moreAuthenticators[0].label
    var clash = fullAccount
    clash.moreAuthenticators[0].label = clash.totpLabel
    for account in [twice, clash] {
        #expect(throws: RecordDecodingError("duplicate authenticator label")) {
            try AccountRecord.decode(AccountRecord.encode(account))
        }
    }
    var bad = AccountRecord.encode(minimalAccount)
    bad[bad.count - 8 - 16] = UInt8(ascii: "-")  // "-efault" is not a valid label (before the 8-byte access section)
    #expect(throws: RecordDecodingError("invalid authenticator label")) { try AccountRecord.decode(bad) }
}

@Test func record_everyTruncation_isRejected() {
    let encoded = AccountRecord.encode(fullAccount)
    for length in 0..<encoded.count {
        #expect(throws: RecordDecodingError.self) { try AccountRecord.decode(Array(encoded.prefix(length))) }
    }
}

@Test func record_trailingBytes_areRejected() {
    #expect(throws: RecordDecodingError("trailing bytes")) {
        try AccountRecord.decode(AccountRecord.encode(minimalAccount) + [0])
    }
}

@Test func record_unknownFormatVersion_isRejected() {
    var encoded = AccountRecord.encode(minimalAccount)
    encoded[0] = AccountRecord.formatVersion + 1
    #expect(throws: RecordDecodingError.self) { try AccountRecord.decode(encoded) }
}

@Test func record_hugeLengthField_isRejectedWithoutReadingPastTheEnd() {
    // A name claiming 4 GiB of bytes.
    #expect(throws: RecordDecodingError("truncated record")) {
        try AccountRecord.decode([1, 0xff, 0xff, 0xff, 0xff, 0x41])
    }
}

@Test func record_invalidNameOrTags_areRejected() {
    let valid = AccountRecord.encode(minimalAccount)
    var badName = valid
    badName[5] = UInt8(ascii: "-")  // "-ob" is not a valid account name
    var badRole = valid
    badRole[19] = 9
    var badState = valid
    badState[24] = 7
    var badPresence = valid
    badPresence[25] = 2
    for record in [badName, badRole, badState, badPresence] {
        #expect(throws: RecordDecodingError.self) { try AccountRecord.decode(record) }
    }
}

@Test func record_randomAndMutatedInput_neverCrashes() {
    var random = SeededGenerator(seed: 20_250_601)
    let valid = AccountRecord.encode(fullAccount)
    var decodedMutants = 0
    for _ in 0..<5_000 {
        let garbage = (0..<Int.random(in: 0..<120, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random)
        }
        _ = try? AccountRecord.decode(garbage)

        var mutant = valid
        mutant[Int.random(in: 0..<mutant.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
        if let decoded = try? AccountRecord.decode(mutant) {
            decodedMutants += 1
            // Whatever decodes must encode back to the same bytes: no field is silently dropped.
            #expect(AccountRecord.encode(decoded) == mutant)
        }
    }
    #expect(decodedMutants > 0)
}
