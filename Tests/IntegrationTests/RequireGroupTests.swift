import Foundation
import Glibc
import Testing
import TestSupport

// pam_twofactor.so's require_group= (issue 11, rollout by Unix group) through the real PAM library.
// Users: root (a member of group root, and an enrolled account of the daemon), nobody (in no listed
// group), daemon (a member of group daemon that the twofactor daemon does not know).

@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct RequireGroupTests {
    struct Setup {
        let daemon: DaemonProcess
        let module: String
        let secret: String
        let step: Int64
        let receiver: DatagramReceiver

        init() throws {
            daemon = try DaemonProcess()
            try daemon.start()
            module = try PAMModule.copy(into: daemon.directory)
            (secret, step) = try daemon.enrolledAccount("root", password: "pw-root-2fa", period: 3600)
            receiver = DatagramReceiver(path: daemon.directory.appendingPathComponent("log").path)
        }

        func code() throws -> String { try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600) }

        /// The module in code_only mode with `options`, then pam_permit: whatever the module ignores passes.
        func service(_ options: String) throws -> PAMService {
            try PAMService([
                "auth required \(module) socket=\(daemon.socketPath) code_only \(options)",
                "auth required pam_permit.so",
            ])
        }
    }

    @Test func members_mustPassTheSecondFactor() throws {
        let setup = try Setup()
        let service = try setup.service("require_group=nogroup,root")
        let withoutCode = try pamtesterLogging(service, "root", input: "\n", logSocket: setup.receiver.path)
        #expect(!withoutCode.authenticated, "\(withoutCode.standardOutput)")
        let withCode = try pamtesterLogging(
            service,
            "root",
            input: "\(try setup.code())\n",
            logSocket: setup.receiver.path
        )
        #expect(withCode.authenticated, "\(withCode.standardError)\n\(setup.daemon.log())")
    }

    @Test func everyoneElse_passesThrough_andIsLoggedWithTheReason() throws {
        let setup = try Setup()
        let service = try setup.service("require_group=root")
        let result = try pamtesterLogging(service, "nobody", input: "", logSocket: setup.receiver.path)
        #expect(result.authenticated, "\(result.standardError)")
        #expect(!result.standardError.contains("Verification code"))
        let line = logLine(containing: "user nobody passes through", from: setup.receiver)
        #expect(line?.contains("not in group(s) root (require_group)") == true, "\(line ?? "no log line")")
        // The daemon was never asked about nobody.
        #expect(!setup.daemon.log().contains("nobody"))
    }

    /// A group entry larger than a first lookup buffer (16 KiB here) is read whole: before, the lookup failed
    /// with ERANGE, was taken for "no such group", and its members passed through without a second factor.
    @Test func aMemberOfAGroupTooLargeForOneLookupBuffer_mustStillPassTheSecondFactor() throws {
        let setup = try Setup()
        let members = ["root"] + (0..<2_000).map { String(format: "tfd-member%05d", $0) }
        let groups = try String(contentsOfFile: "/etc/group", encoding: .utf8)
        let file = setup.daemon.directory.appendingPathComponent("group").path
        try (groups + "tfd-big-group:x:42424:" + members.joined(separator: ",") + "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let service = try setup.service("require_group=tfd-big-group")
        let withoutCode = try pamtesterLogging(
            service,
            "root",
            input: "\n",
            logSocket: setup.receiver.path,
            groupFile: file
        )
        #expect(!withoutCode.authenticated, "a member passed without a code: \(withoutCode.standardOutput)")
        let withCode = try pamtesterLogging(
            service,
            "root",
            input: "\(try setup.code())\n",
            logSocket: setup.receiver.path,
            groupFile: file
        )
        #expect(withCode.authenticated, "\(withCode.standardError)\n\(setup.daemon.log())")
    }

    @Test func aGroupThatDoesNotExist_isLogged_notSilent() throws {
        let setup = try Setup()
        let service = try setup.service("require_group=tfd-no-such-group")
        let result = try pamtesterLogging(service, "root", input: "", logSocket: setup.receiver.path)
        #expect(result.authenticated, "\(result.standardError)")
        let line = logLine(containing: "user root passes through", from: setup.receiver)
        #expect(line?.contains("no such group: tfd-no-such-group") == true, "\(line ?? "no log line")")
    }

    @Test func aMemberUnknownToTheDaemon_isDenied_evenWithNullok() throws {
        let setup = try Setup()
        let service = try setup.service("nullok require_group=daemon")
        let member = try pamtesterLogging(service, "daemon", input: "123456\n", logSocket: setup.receiver.path)
        #expect(!member.authenticated, "\(member.standardOutput)")
        // Without require_group, nullok lets the same unknown user through: the option is what denies.
        let lenient = try setup.service("nullok")
        #expect(try pamtesterLogging(lenient, "daemon", input: "", logSocket: setup.receiver.path).authenticated)
    }

    @Test func aMalformedGroupList_isAConfigurationError() throws {
        let setup = try Setup()
        for options in ["require_group=", "require_group=,root", "require_group=root,", "require_group=a,,b"] {
            let result = try pamtesterLogging(
                try setup.service(options),
                "nobody",
                input: "",
                logSocket: setup.receiver.path
            )
            #expect(!result.authenticated, "\(options)")
        }
    }
}
