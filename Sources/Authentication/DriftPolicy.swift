import AccountStore
import OneTimePassword

// MUSTs of the code window and of clock drift (issue 11, item 3):
// - an authenticator's code is accepted only within `window` steps either side of the current step plus
//   the authenticator's drift: three steps wide by default, wherever the drift has moved it;
// - the drift is learned only from accepted codes, and learning never moves it beyond `maximumDrift`
//   steps: a code that matched further out is still accepted when it is in the window, but moves nothing,
//   so a clock that keeps running away is followed up to the bound and then refused;
// - the drift moves to an offset only when two accepted codes in a row measured it: a code typed late
//   measures one step less than its device's clock, and one late code after another must not walk the
//   window away from the current step of a device whose clock is right;
// - a step at or before the authenticator's last accepted step is never accepted, whatever the drift or
//   a resync: refused here already, and again by the store in the write that records the step (the guard
//   that holds across races and crashes);
// - a resync takes two codes at consecutive steps, both later than the last accepted step, within
//   `resyncRange` steps of now (RFC 4226 section 7.4); nothing else ever changes the drift, and a failed
//   login never does (the LinOTP CVE-2019-12887 hole was a resync made of codes sent at login).

/// What a code matched among an account's authenticators.
public enum CodeMatch: Sendable, Hashable {
    /// `authenticator` matched at `step`, later than its last accepted step; record `drift` and the
    /// measured `offset` (`Authenticator.lastOffset`) with the step.
    case accepted(Authenticator, step: UInt64, drift: Int32, offset: Int32?)
    /// The code matched only at steps already used: a replay.
    case replayed
    case wrong
}

/// Where a resync found its two codes.
public enum ResyncMatch: Sendable, Hashable {
    /// The second code's step, to record as the last accepted one, and the drift it measures.
    case found(step: UInt64, drift: Int32)
    /// The codes matched consecutive steps, but not both after the last accepted step.
    case replayed
    /// No two consecutive steps within the search range have these codes.
    case notFound
}

/// The window of accepted codes and how each authenticator's clock drift moves it.
public struct DriftPolicy: Sendable, Hashable {
    /// Steps on each side of the centre whose codes are accepted (RFC 6238 section 5.2 recommends one).
    public var window: UInt64
    /// The largest drift, in steps, that accepted codes can teach an authenticator.
    public var maximumDrift: Int32
    /// Steps on each side of now that a resync searches for its two consecutive codes.
    public var resyncRange: UInt64

    public static let defaultMaximumDrift: Int32 = 2
    public static let defaultResyncRange = UInt64(Authenticator.largestDrift)

    public init(
        window: UInt64 = 1,
        maximumDrift: Int32 = DriftPolicy.defaultMaximumDrift,
        resyncRange: UInt64 = DriftPolicy.defaultResyncRange
    ) {
        self.window = window
        self.maximumDrift = max(0, maximumDrift)
        self.resyncRange = resyncRange
    }

    /// The step an authenticator's window is centred on at `unixTime`.
    public func centre(of authenticator: Authenticator, at unixTime: UnixTime) -> UInt64? {
        guard
            let totp = try? TOTP(
                secret: authenticator.credential.secret,
                parameters: authenticator.credential.parameters
            )
        else { return nil }
        return Self.offset(totp.step(at: unixTime), by: Int64(authenticator.drift))
    }

    /// Checks `code` against every authenticator (all of them, whatever matches, so the time taken does
    /// not say which one did); the first in order that matched at an unused step wins.
    public func match(_ code: String, among authenticators: [Authenticator], at unixTime: UnixTime) -> CodeMatch {
        var accepted: CodeMatch?
        var replayed = false
        for authenticator in authenticators {
            let credential = authenticator.credential
            guard let totp = try? TOTP(secret: credential.secret, parameters: credential.parameters),
                let centre = centre(of: authenticator, at: unixTime),
                let step = totp.matchingStep(for: code, around: centre, window: window)
            else { continue }
            if let last = authenticator.lastAcceptedStep, step <= last {
                replayed = true
                continue
            }
            if accepted == nil {
                let learned = learnedDrift(step: step, now: totp.step(at: unixTime), of: authenticator)
                accepted = .accepted(authenticator, step: step, drift: learned.drift, offset: learned.offset)
            }
        }
        return accepted ?? (replayed ? .replayed : .wrong)
    }

    /// What a code of `authenticator` that matched at `step` when the current step is `now` teaches: the
    /// offset it measured (nil beyond the bound), and the drift to keep: that offset when the previous
    /// accepted code measured it too, else the drift as it was.
    public func learnedDrift(
        step: UInt64,
        now: UInt64,
        of authenticator: Authenticator
    ) -> (drift: Int32, offset: Int32?) {
        let measured = Int64(clamping: step) - Int64(clamping: now)
        guard abs(measured) <= Int64(maximumDrift) else { return (authenticator.drift, nil) }
        let offset = Int32(measured)
        return (offset == authenticator.lastOffset ? offset : authenticator.drift, offset)
    }

    /// Looks for `first` and `second` at two consecutive steps within `resyncRange` of now, checking every
    /// candidate (no early exit); the earliest pair wins.
    public func resync(
        _ first: String,
        _ second: String,
        for authenticator: Authenticator,
        at unixTime: UnixTime
    ) -> ResyncMatch {
        let credential = authenticator.credential
        guard let totp = try? TOTP(secret: credential.secret, parameters: credential.parameters) else {
            return .notFound
        }
        let now = totp.step(at: unixTime)
        let low = Self.offset(now, by: -Int64(clamping: resyncRange))
        let high = Self.offset(now, by: Int64(clamping: resyncRange))
        var found: UInt64?
        var step = low
        while step < high {
            // matchingStep with a window of 0 is the constant-time comparison of one step's code.
            let firstMatches = totp.matchingStep(for: first, around: step, window: 0) != nil
            let secondMatches = totp.matchingStep(for: second, around: step + 1, window: 0) != nil
            if firstMatches, secondMatches, found == nil { found = step }
            step += 1
        }
        guard let found else { return .notFound }
        if let last = authenticator.lastAcceptedStep, found <= last { return .replayed }
        let drift = Int64(clamping: found + 1) - Int64(clamping: now)
        return .found(step: found + 1, drift: Int32(drift))
    }

    private static func offset(_ step: UInt64, by delta: Int64) -> UInt64 {
        delta >= 0
            ? step.addingReportingOverflow(UInt64(delta)).overflow ? .max : step + UInt64(delta)
            : step >= delta.magnitude ? step - delta.magnitude : 0
    }
}
