import Foundation

/// Codes from oathtool(1), an implementation independent of ours: the source of every test's expected code.
public enum OathTool {
    /// The TOTP code of `secret` at `time`, as an authenticator app would show it.
    public static func code(
        secret: [UInt8],
        at time: Int64,
        period: Int = 30,
        digits: Int = 6,
        algorithm: String = "sha1"
    ) throws -> String {
        let hex = secret.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        return try run(["--totp=\(algorithm)", "-d", "\(digits)", "-s", "\(period)s", "-N", "@\(time)", hex])
    }

    /// The same for a base32 secret, as an otpauth URI carries it.
    public static func code(secret: String, at time: Int64, period: Int = 30, digits: Int = 6) throws -> String {
        try run(["--totp=sha1", "--base32", "-d", "\(digits)", "-s", "\(period)s", "-N", "@\(time)", secret])
    }

    /// What oathtool prints for `arguments`, without the trailing newline; throws when it fails.
    public static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/oathtool")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failed(
                message: "oathtool \(arguments.dropLast().joined(separator: " ")): "
                    + String(decoding: complaint, as: UTF8.self)
            )
        }
        return String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public struct Failed: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }

        public init(message: String) { self.message = message }
    }
}

/// The `secret` parameter of an otpauth URI.
public func secretParameter(ofURI uri: String) -> String? {
    URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value
}

/// The `secret` parameter of an otpauth URI as the protocol carries it, in UTF-8 bytes.
public func secretParameter(ofURI uri: [UInt8]) -> String? {
    secretParameter(ofURI: String(decoding: uri, as: UTF8.self))
}
