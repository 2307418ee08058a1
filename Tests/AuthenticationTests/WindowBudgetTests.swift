import Authentication
import Testing

@Suite struct WindowBudgetTests {
    /// A use spent along with its group's is granted only when both have room; a key at its own limit does not
    /// use up its group's budget, and a refusal by the group is reported with the key's next granted use.
    @Test func spendAlongWithAGroup_grantsOnlyWhenBothHaveRoom_andCountsARefusalForTheKeyAlone() {
        var keys = WindowBudget<String>(interval: 60, perKey: 2)
        var groups = WindowBudget<String>(interval: 60, perKey: 3)
        #expect(keys.spend("a1", now: 0, alongWith: "a", in: &groups) == .granted(suppressedBefore: 0))
        #expect(keys.spend("a1", now: 0, alongWith: "a", in: &groups) == .granted(suppressedBefore: 0))
        for _ in 0..<10 {
            #expect(keys.spend("a1", now: 10, alongWith: "a", in: &groups) == .exhausted(retryAfter: 50))
        }
        #expect(keys.spend("a2", now: 20, alongWith: "a", in: &groups) == .granted(suppressedBefore: 0))
        #expect(
            keys.spend("a3", now: 30, alongWith: "a", in: &groups) == .exhausted(retryAfter: 30),
            "the group's budget is spent"
        )
        #expect(keys.spend("b1", now: 30, alongWith: "b", in: &groups) == .granted(suppressedBefore: 0))
        #expect(keys.spend("a3", now: 60, alongWith: "a", in: &groups) == .granted(suppressedBefore: 1))
        #expect(keys.spend("a1", now: 60, alongWith: "a", in: &groups) == .granted(suppressedBefore: 10))
    }

    /// `isSpent` is true right after the use that spent a key's last one, and false again in its next window.
    @Test func isSpent_afterTheLastUseOfAWindow_untilTheNextWindow() {
        var budget = WindowBudget<String>(interval: 60, perKey: 2)
        #expect(!budget.isSpent("a", now: 0))
        _ = budget.spend("a", now: 0)
        #expect(!budget.isSpent("a", now: 0))
        _ = budget.spend("a", now: 1)
        #expect(budget.isSpent("a", now: 1))
        #expect(!budget.isSpent("b", now: 1))
        #expect(!budget.isSpent("a", now: 60))
    }

    /// `takeSuppressed` hands over the refusals not yet reported, and a key's next granted use then reports none.
    @Test func takeSuppressed_handsOverTheUnreportedRefusals_once() {
        var budget = WindowBudget<String>(interval: 60, perKey: 1)
        _ = budget.spend("a", now: 0)
        _ = budget.spend("b", now: 0)
        for _ in 0..<3 { _ = budget.spend("a", now: 1) }
        let taken = budget.takeSuppressed()
        #expect(taken.map(\.key) == ["a"] && taken.map(\.count) == [3])
        #expect(budget.takeSuppressed().isEmpty)
        #expect(budget.spend("a", now: 60) == .granted(suppressedBefore: 0))
    }
}
