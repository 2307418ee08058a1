import OpenSSLCrypto

/// Time-based one-time passwords (RFC 6238): HOTP over the number of periods since the Unix epoch.
public struct TOTP: Sendable {
    public let secret: [UInt8]
    public let parameters: TOTPParameters
    private let hotp: HOTP

    public init(secret: [UInt8], parameters: TOTPParameters = .standard) throws(OTPError) {
        guard parameters.period >= 1 else { throw .periodOutOfRange(parameters.period) }
        hotp = try HOTP(secret: secret, algorithm: parameters.algorithm, digits: parameters.digits)
        self.secret = secret
        self.parameters = parameters
    }

    /// The time step T of RFC 6238 section 4.2 at `unixTime`; times before the epoch count as step 0.
    public func step(at unixTime: Int64) -> UInt64 {
        unixTime < 0 ? 0 : UInt64(unixTime) / UInt64(parameters.period)
    }

    public func code(at unixTime: Int64) -> String { code(forStep: step(at: unixTime)) }

    public func code(forStep step: UInt64) -> String { hotp.code(counter: step) }

    /// The step within `window` steps of `unixTime` whose code is `code`, or nil.
    ///
    /// Every candidate is computed and compared in constant time, and the loop never stops early,
    /// so the time taken does not say which step (if any) matched. When two steps share a code, the
    /// earliest wins: it burns the fewest future codes.
    public func matchingStep(for code: String, at unixTime: Int64, window: UInt64 = 1) -> UInt64? {
        matchingStep(for: code, around: step(at: unixTime), window: window)
    }

    /// The step within `window` steps of `centre` whose code is `code`, or nil; the same rules as
    /// `matchingStep(for:at:window:)`, around a step the caller chose (the current one plus a clock offset).
    public func matchingStep(for code: String, around centre: UInt64, window: UInt64) -> UInt64? {
        let typed = Array(code.utf8)
        guard typed.count == parameters.digits, typed.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        let first = centre >= window ? centre - window : 0
        let (last, overflow) = centre.addingReportingOverflow(window)
        var match: UInt64?
        for candidate in first...(overflow ? UInt64.max : last) {
            let equal = ConstantTime.equals(Array(self.code(forStep: candidate).utf8), typed)
            if equal, match == nil { match = candidate }
        }
        return match
    }
}
