#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why libqrencode could not make a QR code: the `errno` that `QRcode_encodeString` set.
///
/// The description never repeats the text, because the text is usually an otpauth URI holding a secret.
public struct QRCodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `errno` value libqrencode reported: `ERANGE`, `EINVAL` or `ENOMEM`.
    public let code: Int32

    /// The text does not fit in the largest QR code (version 40) at error-correction level M (`ERANGE`).
    public static let textTooLong = QRCodeError(code: ERANGE)
    /// libqrencode refused the input (`EINVAL`); also used for text containing a NUL character,
    /// which a C string cannot carry.
    public static let invalidText = QRCodeError(code: EINVAL)
    /// libqrencode could not allocate memory (`ENOMEM`).
    public static let outOfMemory = QRCodeError(code: ENOMEM)

    init(code: Int32) {
        self.code = code
    }

    public var description: String {
        switch code {
        case ERANGE:
            return "the text is too long for a QR code (the largest holds about 2,300 bytes at error-correction "
                + "level M): shorten it, or enter the secret by hand instead of scanning"
        case EINVAL:
            return "libqrencode refused the text as invalid input (it must be non-empty and contain no NUL "
                + "character): check the text, or enter the secret by hand instead of scanning"
        case ENOMEM:
            return "libqrencode ran out of memory while making the QR code: free some memory and try again"
        default:
            return "libqrencode failed to make the QR code (errno \(code)): enter the secret by hand instead"
        }
    }
}
