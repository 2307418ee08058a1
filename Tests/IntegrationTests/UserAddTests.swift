import Testing

/// `twofactorctl user add` of a taken name: a name the caller can see is refused before the new password is
/// read; a name another organization holds is told to an admin only by the add itself, as before
/// (docs/security.md: names are told at a scrypt's cost per probe).
@Suite struct UserAddTests {
    @Test func aTakenName_isRefusedBeforeTheNewPassword_onlyWhereTheCallerCanSeeIt() throws {
        let fixture = try OrganizationFixture()
        // No new password follows on standard input: only a refusal before it is read can say "taken".
        let byOperator = try fixture.ctl(["user", "add", "olga", "--password-stdin"])
        #expect(byOperator.status == 1, "\(byOperator.standardError)")
        #expect(byOperator.standardError.contains("an account named 'olga' already exists"))
        let byAdmin = try fixture.ctl(["user", "add", "ann", "--json", "--password-stdin"], as: "amy")
        #expect(byAdmin.status == 1, "\(byAdmin.standardOutput)")
        #expect(byAdmin.standardOutput.contains("\"code\":\"accountExists\""), "\(byAdmin.standardOutput)")

        // Another organization's name: the admin is asked for the password, then the add says it is taken.
        let unasked = try fixture.ctl(["user", "add", "olga", "--password-stdin"], as: "amy")
        #expect(unasked.status == 64, "\(unasked.standardError)")
        #expect(unasked.standardError.contains("no new password"), "\(unasked.standardError)")
        let added = try fixture.ctl(["user", "add", "olga", "--password-stdin"], as: "amy", input: "new-Passw0rd!\n")
        #expect(added.status == 1 && added.standardError.contains("an account named 'olga' already exists"))
        #expect(try fixture.show("olga")["organization"] as? String == "other")
    }
}
