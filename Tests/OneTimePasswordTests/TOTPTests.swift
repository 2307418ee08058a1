import Foundation
import Testing

@testable import OneTimePassword
import TestSupport

@Suite struct TOTPTests {
    let totp = try! TOTP(secret: Array("12345678901234567890".utf8))
    let now: Int64 = 1_700_000_015

    @Test func matchingStep_acceptsOneStepEitherSide_notTwo() {
        let step = totp.step(at: now)
        for offset in [-1, 0, 1] as [Int64] {
            let code = totp.code(forStep: UInt64(Int64(step) + offset))
            #expect(totp.matchingStep(for: code, at: now) == UInt64(Int64(step) + offset))
        }
        for offset in [-2, 2] as [Int64] {
            let code = totp.code(forStep: UInt64(Int64(step) + offset))
            // A code two steps away may collide with one inside the window by chance (1 in 10^6): not here.
            #expect(totp.matchingStep(for: code, at: now) == nil)
        }
    }

    @Test(arguments: ["", "12345", "1234567", "12a456", " 123456", "１２３４５６"])
    func matchingStep_rejectsMalformedCodes(code: String) {
        #expect(totp.matchingStep(for: code, at: now) == nil)
    }

    @Test func step_beforeEpochIsZero_andCountsPeriods() {
        #expect(totp.step(at: -5) == 0)
        #expect(totp.step(at: 59) == 1)
        #expect(totp.step(at: 60) == 2)
    }

    @Test func init_rejectsBadParameters() {
        #expect(throws: OTPError.emptySecret) { try TOTP(secret: []) }
        #expect(throws: OTPError.digitsOutOfRange(9)) {
            try TOTP(secret: [1], parameters: TOTPParameters(algorithm: .sha1, digits: 9, period: 30))
        }
        #expect(throws: OTPError.periodOutOfRange(0)) {
            try TOTP(secret: [1], parameters: TOTPParameters(algorithm: .sha1, digits: 6, period: 0))
        }
    }
}

/// Codes compared with oathtool(1) for random secrets, times and parameters.
@Suite struct OathToolComparisonTests {
    @Test func codes_matchOathTool_forRandomSecretsAndTimes() throws {
        var generator = SeededGenerator(seed: 0x2FA_2026)
        let algorithms: [(OTPAlgorithm, String)] = [(.sha1, "sha1"), (.sha256, "sha256"), (.sha512, "sha512")]
        for round in 0..<30 {
            let secret = (0..<Int.random(in: 10...64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let (algorithm, name) = algorithms[round % 3]
            let digits = [6, 7, 8][Int.random(in: 0...2, using: &generator)]
            let period = [30, 60, 15, 3600][Int.random(in: 0...3, using: &generator)]
            let time = Int64.random(in: 0...4_000_000_000, using: &generator)
            let totp = try TOTP(
                secret: secret,
                parameters: TOTPParameters(algorithm: algorithm, digits: digits, period: period)
            )
            let expected = try oathtool([
                "--totp=\(name)", "--base32", "-d", "\(digits)", "-s", "\(period)s", "-N", "@\(time)",
                Base32.encode(secret),
            ])
            #expect(totp.code(at: time) == expected, "round \(round)")
        }
    }

    @Test func hotp_matchesOathTool() throws {
        let secret = Array("a secret of some length".utf8)
        let hotp = try HOTP(secret: secret, digits: 8)
        for counter in [0, 1, 77, 1_000_000] as [UInt64] {
            let expected = try oathtool(["-d", "8", "-c", "\(counter)", "--base32", Base32.encode(secret)])
            #expect(hotp.code(counter: counter) == expected)
        }
    }

    private func oathtool(_ arguments: [String]) throws -> String {
        try OathTool.run(arguments)
    }
}
