import AccountStore
import Dispatch
import OneTimePassword
import Synchronization
import Testing
import TestSupport

@testable import LMDBAccountStore
@testable import StoredRecords

// Several authenticators in the store: each its own replay step, sealed under its own label.

private let phoneCredential = TOTPCredential(secret: Array("PHONE-SECRET-0000004".utf8), parameters: .standard)
private let phone = try! AuthenticatorLabel("phone")

private func twoAuthenticators(_ name: String) -> Account {
    var account = makeAccount(name)
    account.lastAcceptedStep = 100
    account.moreAuthenticators = [Authenticator(label: phone, credential: phoneCredential, lastAcceptedStep: 100)]
    return account
}

@Test func recordAcceptedStep_keepsOneStepPerAuthenticator() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.create(twoAuthenticators("alice"))
    let alice = accountName("alice")
    #expect(
        try store.recordAcceptedStep(
            101,
            for: alice,
            authenticator: .enrolled,
            credential: enrolledCredential,
            drift: 1,
            at: 1
        ) == .accepted
    )
    // The same step is still unused on the phone, and its drift is its own.
    #expect(
        try store.recordAcceptedStep(
            101,
            for: alice,
            authenticator: phone,
            credential: phoneCredential,
            drift: -1,
            at: 2
        ) == .accepted
    )
    #expect(
        try store.recordAcceptedStep(
            101,
            for: alice,
            authenticator: phone,
            credential: phoneCredential,
            drift: 0,
            at: 3
        ) == .replayed
    )
    #expect(
        try store.recordAcceptedStep(
            101,
            for: alice,
            authenticator: .enrolled,
            credential: enrolledCredential,
            drift: 0,
            at: 3
        ) == .replayed
    )
    let stored = try #require(try store.account(named: alice))
    #expect(stored.authenticators.map(\.lastAcceptedStep) == [101, 101])
    #expect(stored.authenticators.map(\.drift) == [1, -1])
    #expect(stored.lastLoginAt == 2)
}

@Test func recordAcceptedStep_forARemovedOrChangedAuthenticator_isRefused() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.create(twoAuthenticators("bob"))
    let bob = accountName("bob")
    // The phone's credential does not match the first authenticator's, and the other way round.
    #expect(
        try store.recordAcceptedStep(
            200,
            for: bob,
            authenticator: .enrolled,
            credential: phoneCredential,
            drift: 0,
            at: 1
        ) == .replayed
    )
    #expect(
        try store.recordAcceptedStep(
            200,
            for: bob,
            authenticator: phone,
            credential: enrolledCredential,
            drift: 0,
            at: 1
        ) == .replayed
    )
    try store.update(bob) { account in account.moreAuthenticators = [] }
    #expect(
        try store.recordAcceptedStep(200, for: bob, authenticator: phone, credential: phoneCredential, drift: 0, at: 1)
            == .replayed
    )
    #expect(try store.account(named: bob)?.authenticators.map(\.lastAcceptedStep) == [100])
}

@Test func sealing_bindsTheLabel_soSwappedSecretsDoNotOpen() throws {
    let key = try SecretsKey(bytes: Array(repeating: 7, count: 32), path: "/test-key")
    let account = twoAuthenticators("carol")
    let sealed = try SecretSealing.sealed(account, with: key)
    #expect(sealed.totp?.secret != enrolledCredential.secret)
    #expect(sealed.moreAuthenticators[0].credential.secret != phoneCredential.secret)
    #expect(SecretSealing.unsealed(sealed, with: key) == account)
    // Swap the two sealed secrets: the replay steps would then guard the wrong secrets.
    var swapped = sealed
    swapped.totp?.secret = sealed.moreAuthenticators[0].credential.secret
    swapped.moreAuthenticators[0].credential.secret = sealed.totp!.secret
    #expect(SecretSealing.unsealed(swapped, with: key) == nil)
    // Relabel the phone: its secret no longer opens.
    var relabelled = sealed
    relabelled.moreAuthenticators[0].label = try AuthenticatorLabel("other")
    #expect(SecretSealing.unsealed(relabelled, with: key) == nil)
    // A pending authenticator's secret is sealed too, under its own field.
    var pending = account
    pending.pendingAuthenticator = PendingAuthenticator(
        label: phone,
        enrollment: PendingEnrollment(credential: phoneCredential, expiresAt: 9)
    )
    pending.moreAuthenticators = []
    let sealedPending = try SecretSealing.sealed(pending, with: key)
    #expect(sealedPending.pendingAuthenticator?.enrollment.credential.secret != phoneCredential.secret)
    #expect(SecretSealing.unsealed(sealedPending, with: key) == pending)
}

@Test func recordAcceptedStep_racingBothAuthenticators_acceptsEachStepOncePerAuthenticator() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.create(twoAuthenticators("dora"))
    let dora = accountName("dora")
    for step in UInt64(101)...105 {
        let acceptedFirst = Atomic(0)
        let acceptedPhone = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 32) { index in
            let (label, credential) =
                index % 2 == 0 ? (AuthenticatorLabel.enrolled, enrolledCredential) : (phone, phoneCredential)
            let result = try? store.recordAcceptedStep(
                step,
                for: dora,
                authenticator: label,
                credential: credential,
                drift: 0,
                at: 1
            )
            guard result == .accepted else { return }
            if index % 2 == 0 {
                acceptedFirst.add(1, ordering: .relaxed)
            } else {
                acceptedPhone.add(1, ordering: .relaxed)
            }
        }
        #expect(acceptedFirst.load(ordering: .relaxed) == 1)
        #expect(acceptedPhone.load(ordering: .relaxed) == 1)
    }
}
