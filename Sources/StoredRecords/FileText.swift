import Glibc

/// How store messages show file facts to the operator.
package enum FileText {
    /// A file mode as four octal digits, e.g. `0644`.
    package static func octal(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The C library's sentence for an errno value.
    package static func systemMessage(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "error \(code)" }
        return String(cString: message)
    }
}
