import AccountStore
import Authentication
import Testing

/// The drift rule alone (codes and windows are tested through the service, with oathtool's codes).
@Suite struct DriftPolicyTests {
    let policy = DriftPolicy(window: 1, maximumDrift: 2)

    @Test func learnedDrift_followsTheMeasuredOffset_withinTheBound() {
        #expect(policy.learnedDrift(step: 101, now: 100, previous: 0) == 1)
        #expect(policy.learnedDrift(step: 98, now: 100, previous: -1) == -2)
        #expect(policy.learnedDrift(step: 100, now: 100, previous: 2) == 0)
    }

    @Test func learnedDrift_beyondTheBound_keepsThePreviousDrift() {
        #expect(policy.learnedDrift(step: 103, now: 100, previous: 2) == 2)
        #expect(policy.learnedDrift(step: 97, now: 100, previous: -2) == -2)
        // A resync set -8: codes around it are accepted but do not pull it back to the bound.
        #expect(policy.learnedDrift(step: 93, now: 100, previous: -8) == -8)
    }

    @Test func negativeBound_isTakenAsZero_andStepsNearTheEdgesDoNotOverflow() {
        #expect(DriftPolicy(maximumDrift: -5).maximumDrift == 0)
        #expect(policy.learnedDrift(step: .max, now: 0, previous: 1) == 1)
        #expect(policy.learnedDrift(step: 0, now: .max, previous: -1) == -1)
    }
}
