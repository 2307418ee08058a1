import Foundation

/// Codes from oathtool(1), an implementation independent of ours.
enum OathTool {
    /// The TOTP code of `secret` (base32) at `time`, as an authenticator app would show it.
    static func code(secret: String, at time: Int64, period: Int = 30, digits: Int = 6) throws -> String {
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/oathtool"),
            ["--totp=sha1", "--base32", "-d", "\(digits)", "-s", "\(period)s", "-N", "@\(time)", secret]
        )
        guard result.status == 0 else { throw OathToolFailed(message: result.standardError) }
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct OathToolFailed: Error { var message: String }
}

/// The `secret` parameter of an otpauth URI.
func secretParameter(ofURI uri: String) -> String? {
    URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value
}

func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }
