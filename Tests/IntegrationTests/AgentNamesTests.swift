import Foundation
import Testing
import TestSupport

/// An admin adds agents only under the names an operator allowed its organization, through the real daemon and
/// `twofactorctl`: an admin that could name an agent `root` could log in as root wherever pam_twofactor checks
/// the password (docs/security.md).
@Suite struct AgentNamesTests {
    @Test func anAdmin_addsNoName_untilAnOperatorAllowsIt_andThenOnlyThoseItsPatternsMatch() throws {
        let org = try OrganizationFixture()
        _ = try org.daemon.ctl(["org", "add", "beta"])
        try org.add("bea", organization: "beta", role: "admin")

        let shown = try org.daemon.ctl(["org", "show", "beta"])
        #expect(
            shown.standardOutput.contains("agent names:  none (only operators add accounts)"),
            "\(shown.standardOutput)"
        )
        let root = try org.ctl(["user", "add", "root"], as: "bea", input: "Chosen-Passw0rd!\n")
        #expect(root.status == 1)
        #expect(root.standardError.contains("an admin of 'beta' may not add 'root'"), "\(root.standardError)")
        #expect(root.standardError.contains("twofactorctl org set beta --agent-name PATTERN"), "\(root.standardError)")

        let allowed = try org.daemon.ctl(["org", "set", "beta", "--agent-name", "beta-*"])
        #expect(allowed.status == 0, "\(allowed.standardError)")
        #expect(allowed.standardOutput.contains("agent names beta-*"), "\(allowed.standardOutput)")
        let added = try org.ctl(["user", "add", "beta-cid"], as: "bea", input: "Cid-Passw0rd!x\n")
        #expect(added.status == 0, "\(added.standardError)")
        #expect(try org.show("beta-cid")["organization"] as? String == "beta")
        let again = try org.ctl(["user", "add", "root"], as: "bea", input: "Chosen-Passw0rd!\n")
        #expect(again.status == 1)
        #expect(again.standardError.contains("the names its admin may add are beta-*"), "\(again.standardError)")
        #expect(try org.daemon.ctl(["user", "show", "root"]).status == 1)

        let json = try org.daemon.ctl(["org", "show", "beta", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        #expect(object?["agentNames"] as? [String] == ["beta-*"], "\(json.standardOutput)")
        let contradiction = try org.daemon.ctl(["org", "set", "beta", "--agent-name", "x", "--no-agent-names"])
        #expect(contradiction.status == 64 && contradiction.standardError.contains("contradict"))
        let cleared = try org.daemon.ctl(["org", "set", "beta", "--no-agent-names"])
        #expect(cleared.status == 0 && cleared.standardOutput.contains("agent names none"), "\(cleared.standardOutput)")
    }
}
