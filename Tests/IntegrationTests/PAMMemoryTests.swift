import Foundation
import Glibc
import Testing
import Wire
import TestSupport

let valgrindInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind")

/// pam_twofactor.so, as `make pam-module` builds it, under valgrind's memcheck inside pamtester: no read or write
/// out of bounds, no use of uninitialised memory and no leak in the module on the paths of a login (the code
/// prompt, an enrollment's QR code and recovery codes, refusals) and on answers no daemon should send (cut short,
/// too long, never finished). `make memcheck` runs the other PAM suites against a sanitized build as well.
@Suite(
    .enabled(if: runningAsRoot, notRootMessage),
    .enabled(if: valgrindInstalled, "valgrind is missing: make test-deps installs it"),
    .enabled(if: PAMModule.chosen == nil, "TWOFACTORD_PAM_MODULE names a sanitized build, which valgrind cannot run")
)
struct PAMMemoryTests {
    /// pamtester under valgrind, its report in `directory`; the report when memcheck found something, else nil.
    static func memcheck(_ service: PAMService, in directory: URL, input: String) throws -> (CommandResult, String?) {
        let log = directory.appendingPathComponent("valgrind-\(UUID().uuidString.prefix(8)).log").path
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/valgrind"),
            [
                "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
                "--track-origins=yes", "--log-file=\(log)", "/usr/bin/pamtester", service.name, "alice",
                "authenticate",
            ],
            input: input
        )
        let report = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let clean = result.status != 99 && report.contains("ERROR SUMMARY: 0 errors")
        return (result, clean ? nil : report)
    }

    static let hello = WireCodec.encodeResponse(.helloReply(version: 1), id: 1)
    static let uri = "otpauth://totp/Example:alice?secret=" + String(repeating: "A", count: 900) + "&issuer=Example"
    static let codes = (0..<16).map { _ in String(repeating: "K", count: 32) }

    /// What a fake daemon answers the Hello and the module's requests with, and whether the login succeeds.
    static let conversations: [(name: String, answers: [[UInt8]], input: String, authenticates: Bool)] = [
        (
            "a code asked for, then ok",
            [hello, loginResult(.codeNeeded, id: 2), loginResult(.ok, id: 3)], "pw-alice\n12 34 56\n", true
        ),
        (
            "an enrollment with its QR code, then the most recovery codes, each the longest",
            [
                hello,
                WireCodec.encodeResponse(
                    .enrollScreen(
                        otpauthURI: Array(uri.utf8),
                        screen: Array(repeating: UInt8(ascii: "#"), count: 32768)
                    ),
                    id: 2
                ),
                WireCodec.encodeResponse(.recoveryCodes(codes), id: 3),
            ], "pw-alice\n123456\n", true
        ),
        (
            "an enrollment as a login result, then recovery codes",
            [
                hello,
                WireCodec.encodeResponse(
                    .loginResult(outcome: .enroll, retryAfter: 0, otpauthURI: Array(uri.utf8)),
                    id: 2
                ),
                WireCodec.encodeResponse(.recoveryCodes(codes), id: 3),
            ], "pw-alice\n123456\n", true
        ),
        (
            "busy, with the longest message",
            [
                hello,
                WireCodec.encodeResponse(.error(code: .busy, message: String(repeating: "b", count: 1024)), id: 2),
            ],
            "pw-alice\n", false
        ),
        (
            "locked for good",
            [hello, WireCodec.encodeResponse(.loginResult(outcome: .locked, retryAfter: .max, otpauthURI: []), id: 2)],
            "pw-alice\n", false
        ),
        ("a frame cut short", [hello, Array(loginResult(.ok, id: 2).dropLast(3))], "pw-alice\n", false),
        ("a length past the maximum", [hello, [0xFF, 0xFF, 0xFF, 0xFF]], "pw-alice\n", false),
        ("a length one below the smallest frame", [hello, [0, 0, 0, 4, 0x90, 0, 0, 0]], "pw-alice\n", false),
        (
            "a body shorter than its length", [hello, [0, 0, 0xEA, 0x60] + Array(repeating: 0x78, count: 100)],
            "pw-alice\n", false
        ),
        ("the connection closed before any answer", [], "pw-alice\n", false),
    ]

    static func loginResult(_ outcome: LoginOutcome, id: UInt32) -> [UInt8] {
        WireCodec.encodeResponse(.loginResult(outcome: outcome, retryAfter: 0, otpauthURI: []), id: id)
    }

    @Test(arguments: conversations.indices)
    func module_hasNoMemoryError_inAConversation(_ index: Int) throws {
        let (name, answers, input, authenticates) = Self.conversations[index]
        let directory = try DaemonProcess()
        let module = try PAMModule.copy(into: directory.directory)
        let fake = try ScriptedDaemon(in: directory.directory, answers: answers)
        let service = try PAMService(["auth required \(module) socket=\(fake.path) timeout=1"])
        let (result, report) = try Self.memcheck(service, in: directory.directory, input: input)
        #expect(report == nil, "\(name):\n\(report ?? "")")
        #expect(result.authenticated == authenticates, "\(name): \(result.standardError)")
    }

    /// A real daemon: a wrong code, then a right one, asked for after the password.
    @Test func module_hasNoMemoryError_withTheRealDaemon() throws {
        let setup = try PAMModuleTests.Setup()
        let service = try setup.service()
        let (wrong, wrongReport) = try Self.memcheck(
            service,
            in: setup.daemon.directory,
            input: "pw-alice\n\(try setup.code(ahead: 5))\n"
        )
        #expect(wrongReport == nil, "\(wrongReport ?? "")")
        #expect(!wrong.authenticated)
        let (right, rightReport) = try Self.memcheck(
            service,
            in: setup.daemon.directory,
            input: "pw-alice\n\(try setup.code())\n"
        )
        #expect(rightReport == nil, "\(rightReport ?? "")")
        #expect(right.authenticated, "\(right.standardError)\n\(setup.daemon.log())")
    }
}
