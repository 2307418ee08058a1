import AccountService
import AccountStore
import LMDBAccountStore
import OneTimePassword
import Testing

/// Accounts written with `LMDBAccountStore.importAccounts` (the load generator's direct loader) are served
/// like accounts created through the service: their codes verify, a replay is refused, and the one
/// password hash they share verifies each account's password.
@Suite struct BulkImportTests {
    @Test func importedAccounts_codesVerify_replaysAreDenied_andThePasswordLogsIn() throws {
        let fixture = try Fixture()
        let password = Array("bulk shared pass-phrase".utf8)
        let hash = try fixture.hasher.hash(password)
        let now = fixture.clock.now
        let secrets = (0..<3).map { index in (0..<20).map { UInt8(truncatingIfNeeded: index * 57 + $0 * 3) } }
        let accounts = secrets.enumerated().map { index, secret in
            Account(
                name: try! AccountName("bulk\(index)"),
                passwordHash: hash,
                twoFactor: .on(.enforced),
                totp: TOTPCredential(secret: secret, parameters: .standard),
                lastAcceptedStep: UInt64(now / 30),
                createdAt: now,
                updatedAt: now,
                twoFactorChange: StateChange(actor: .operator(uid: 0), time: now),
                enrolledAt: now
            )
        }
        try fixture.store.importAccounts(accounts)

        fixture.clock.advance(by: 30)
        let code = try oathtool(secrets[1], at: fixture.clock.now)
        #expect(try fixture.service.checkCode(user: "bulk1", code: .totp(code)) == .ok)
        #expect(try fixture.service.checkCode(user: "bulk1", code: .totp(code)) == .denied)
        let other = try oathtool(secrets[2], at: fixture.clock.now)
        #expect(try fixture.service.login(user: "bulk2", password: password, code: .totp(other)) == .ok)
        // The step recorded at import is spent: its code is refused.
        let spent = try oathtool(secrets[0], at: fixture.clock.now - 30)
        #expect(try fixture.service.checkCode(user: "bulk0", code: .totp(spent)) == .denied)
    }
}
