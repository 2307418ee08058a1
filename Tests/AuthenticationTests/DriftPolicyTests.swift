import AccountStore
import Authentication
import Testing

/// The drift rule alone (codes and windows are tested through the service, with oathtool's codes).
@Suite struct DriftPolicyTests {
    let policy = DriftPolicy(window: 1, maximumDrift: 2)

    /// An authenticator with `drift` whose last accepted code measured `lastOffset`.
    func authenticator(drift: Int32, lastOffset: Int32?) -> Authenticator {
        Authenticator(
            label: .enrolled,
            credential: TOTPCredential(secret: Array(repeating: 1, count: 20), parameters: .standard),
            drift: drift,
            lastOffset: lastOffset
        )
    }

    func learned(step: UInt64, now: UInt64, drift: Int32, lastOffset: Int32?) -> [Int32?] {
        let result = policy.learnedDrift(
            step: step,
            now: now,
            of: authenticator(drift: drift, lastOffset: lastOffset)
        )
        return [result.drift, result.offset]
    }

    @Test func offsetMeasuredTwiceInARow_becomesTheDrift() {
        #expect(learned(step: 101, now: 100, drift: 0, lastOffset: 1) == [1, 1])
        #expect(learned(step: 98, now: 100, drift: -1, lastOffset: -2) == [-2, -2])
        #expect(learned(step: 100, now: 100, drift: 2, lastOffset: 0) == [0, 0])
    }

    /// One code typed a step late measures one step less than its device's clock: it is remembered, and
    /// moves nothing until the next accepted code measures the same.
    @Test func offsetMeasuredOnce_isRemembered_andMovesNothing() {
        #expect(learned(step: 101, now: 100, drift: 0, lastOffset: nil) == [0, 1])
        #expect(learned(step: 99, now: 100, drift: 0, lastOffset: 0) == [0, -1])
        #expect(learned(step: 98, now: 100, drift: -1, lastOffset: -1) == [-1, -2])
    }

    @Test func offsetBeyondTheBound_keepsTheDrift_andBreaksTheRun() {
        #expect(learned(step: 103, now: 100, drift: 2, lastOffset: 3) == [2, nil])
        #expect(learned(step: 97, now: 100, drift: -2, lastOffset: -2) == [-2, nil])
        // A resync set -8: codes around it are accepted but do not pull it back to the bound.
        #expect(learned(step: 93, now: 100, drift: -8, lastOffset: -8) == [-8, nil])
    }

    @Test func negativeBound_isTakenAsZero_andStepsNearTheEdgesDoNotOverflow() {
        #expect(DriftPolicy(maximumDrift: -5).maximumDrift == 0)
        #expect(learned(step: .max, now: 0, drift: 1, lastOffset: 1) == [1, nil])
        #expect(learned(step: 0, now: .max, drift: -1, lastOffset: -1) == [-1, nil])
    }
}
