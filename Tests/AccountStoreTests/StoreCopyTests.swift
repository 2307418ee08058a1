import AccountStore
import Testing
import TestSupport

// `StoreCopy` between two real stores; the source's listing is bent by `ForwardingStore` only to show a state a
// store no longer writes (two admins of one organization).

extension StoreCopyTests {
    /// A source whose organization has two admins (made before the stores refused the second): the copy refuses
    /// before writing anything, naming both and what to do, instead of stopping at the second admin with half the
    /// accounts copied.
    @Test func aSourceWithTwoAdminsInOneOrganization_isRefusedBeforeAnythingIsCopied() throws {
        let sourceFixture = try BackendFixture(.lmdb)
        let real = try sourceFixture.open()
        try real.addOrganizationsNamed("acme")
        var amy = makeAccount("amy", organization: "acme")
        amy.role = .admin
        try real.create(amy)
        try real.create(makeAccount("ann", organization: "acme"))
        try real.create(makeAccount("bob"))
        let source = TwoAdminsSource(real, promoting: accountName("ann"))
        let target = try BackendFixture(.lmdb).open()

        guard case .storageFailure(let message) = storeError({ try StoreCopy.copy(from: source, to: target) }) else {
            Issue.record("a source with two admins in one organization was not refused as such")
            return
        }
        #expect(message.hasPrefix("nothing was copied: the organization 'acme' has 2 admins (amy, ann)"), "\(message)")
        #expect(message.contains("twofactorctl user remove"))
        #expect(try target.accounts(in: nil, after: nil, limit: 10).isEmpty)
        #expect(try target.organization(named: OrganizationName("acme")) == nil)
        // The same store with one admin copies.
        let counts = try StoreCopy.copy(from: real, to: target)
        #expect(counts.accounts == 3)
    }
}

/// Lists `promoted` as an admin, as a store written before the one-admin rule held could.
private final class TwoAdminsSource: ForwardingStore, @unchecked Sendable {
    let promoted: AccountName

    init(_ base: any AccountStore, promoting promoted: AccountName) {
        self.promoted = promoted
        super.init(base)
    }

    override func accounts(
        in organization: OrganizationName?,
        after: AccountName?,
        limit: Int
    ) throws(AccountStoreError) -> [Account] {
        try base.accounts(in: organization, after: after, limit: limit).map { account in
            var listed = account
            if listed.name == promoted { listed.role = .admin }
            return listed
        }
    }
}
