@testable import LoadGenerator
import OneTimePassword
import Testing

// The load generator skips a fresh step whose code is also the code of a step the account used just before,
// which the daemon refuses as a replay, rightly. The vector is oathtool's: with the secret 0x01 to 0x14,
// `oathtool --hotp -c 531216` and `-c 531217` both print 582618, and 531215 and 531218 print other codes.

private func account(lastStep: UInt64) throws -> BenchAccount {
    BenchAccount(
        name: "bench",
        password: [],
        totp: try TOTP(secret: Array(1...20)),
        lastStep: lastStep
    )
}

@Test func aStepSharingItsCodeWithTheStepJustUsed_isSkipped() throws {
    #expect(try account(lastStep: 531_216).code(ofFreshStep: 531_217) == nil)
}

@Test func aStepSharingItsCodeWithAStepNotUsed_orWithNone_isSent() throws {
    #expect(try account(lastStep: 531_215).code(ofFreshStep: 531_217) == "582618", "531216 was not used")
    #expect(try account(lastStep: 531_217).code(ofFreshStep: 531_218) == "356287", "no step before shares its code")
    #expect(try account(lastStep: 0).code(ofFreshStep: 531_217) == "582618")
}
