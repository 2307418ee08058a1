import COpenSSL

/// A failed OpenSSL call: which operation, and the reason from OpenSSL's error queue.
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let reason: String

    /// Takes (and clears) the thread's OpenSSL error queue, so that a later failure does not
    /// report this one's reason.
    init(operation: String) {
        self.operation = operation
        let code = ERR_get_error()
        if code == 0 {
            reason = "no reason given"
        } else {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        ERR_clear_error()
    }

    public var description: String { "\(operation) failed in OpenSSL: \(reason)" }
}
