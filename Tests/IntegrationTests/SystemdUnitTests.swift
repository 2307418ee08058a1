import Foundation
import Testing

/// The units in systemd/ as systemd reads them, offline: no running systemd is needed (CI runs
/// as root in a container whose PID 1 is not systemd).
@Suite struct SystemdUnitTests {
    static let units = MakefileAndReadmeTests.root.appendingPathComponent("systemd")

    /// The units as `make install` writes them, with ExecStart pointing at the built daemon.
    static func renderedUnits() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let template = try String(contentsOf: units.appendingPathComponent("twofactord.service.in"), encoding: .utf8)
        try template.replacingOccurrences(of: "@SBINDIR@", with: Binaries.directory.path)
            .write(to: directory.appendingPathComponent("twofactord.service"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: units.appendingPathComponent("twofactord.socket"),
            to: directory.appendingPathComponent("twofactord.socket")
        )
        return directory
    }

    @Test func service_exposureIsAtMostOnePointFive() throws {
        let directory = try Self.renderedUnits()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/systemd-analyze"),
            ["security", "--offline=true", "--no-pager", directory.appendingPathComponent("twofactord.service").path]
        )
        let marker = "Overall exposure level for twofactord.service: "
        let level = try #require(line(after: marker, in: result.standardOutput), "\(result.standardOutput)")
        let exposure = try #require(Double(level.split(separator: " ")[0]))
        #expect(exposure <= 1.5, "\(result.standardOutput)")
    }

    @Test func units_verifyClean() throws {
        let directory = try Self.renderedUnits()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/systemd-analyze"),
            ["verify"] + ManPages.verifyArguments + [
                directory.appendingPathComponent("twofactord.service").path,
                directory.appendingPathComponent("twofactord.socket").path,
            ],
            environment: ManPages.environment
        )
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.isEmpty && result.standardOutput.isEmpty, "\(result.standardError)")
    }

    @Test func units_sayWhatTheIssueAsks() throws {
        let service = try String(
            contentsOf: Self.units.appendingPathComponent("twofactord.service.in"),
            encoding: .utf8
        )
        for line in [
            "Type=notify", "WatchdogSec=", "StateDirectory=twofactord", "StateDirectoryMode=0700",
            "LoadCredential=twofactord-key:", "Documentation=man:twofactord(8)", "ProtectSystem=strict",
            "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes", "PrivateNetwork=yes", "NoNewPrivileges=yes",
            "RestrictAddressFamilies=AF_UNIX", "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service",
            "CapabilityBoundingSet=\n",
        ] {
            #expect(service.contains(line), "twofactord.service lacks \(line)")
        }
        let socket = try String(contentsOf: Self.units.appendingPathComponent("twofactord.socket"), encoding: .utf8)
        for line in ["SocketMode=", "SocketUser=", "SocketGroup="] {
            #expect(socket.contains("\n" + line), "twofactord.socket lacks \(line)")
        }
        // The socket unit listens where the daemon and the clients look by default.
        let settings = try run(Binaries.url("twofactord"), ["--check-config"]).standardOutput
        let path = try #require(line(after: "socket = ", in: settings))
        #expect(socket.contains("ListenStream=\(path)\n"))
    }

    @Test func sysusersAndTmpfiles_createTheUserGroupAndDirectories() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("etc"),
            withIntermediateDirectories: true
        )
        defer { try? FileManager.default.removeItem(at: root) }
        let sysusers = try run(
            URL(fileURLWithPath: "/usr/bin/systemd-sysusers"),
            ["--root=\(root.path)", Self.units.appendingPathComponent("twofactord.sysusers").path]
        )
        #expect(sysusers.status == 0, "\(sysusers.standardError)")
        let passwd = try String(contentsOf: root.appendingPathComponent("etc/passwd"), encoding: .utf8)
        let group = try String(contentsOf: root.appendingPathComponent("etc/group"), encoding: .utf8)
        #expect(passwd.contains("twofactord:x:") && passwd.contains(":/usr/sbin/nologin"), "\(passwd)")
        #expect(group.contains("\ntwofactord-operators:x:") || group.hasPrefix("twofactord-operators:x:"), "\(group)")

        let tmpfiles = try run(
            URL(fileURLWithPath: "/usr/bin/systemd-tmpfiles"),
            ["--root=\(root.path)", "--create", Self.units.appendingPathComponent("twofactord.tmpfiles").path]
        )
        #expect(tmpfiles.status == 0, "\(tmpfiles.standardError)")
        let state = try FileManager.default.attributesOfItem(
            atPath: root.appendingPathComponent("var/lib/twofactord").path
        )
        #expect((state[.posixPermissions] as? Int) == 0o700)
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/twofactord").path))
    }
}

/// Where `man` finds our pages without installing them: a MANPATH tree of links into man/.
enum ManPages {
    static let source = MakefileAndReadmeTests.root.appendingPathComponent("man")

    static let tree: URL? = {
        let pages = (try? FileManager.default.contentsOfDirectory(atPath: source.path)) ?? []
        guard !pages.isEmpty else { return nil }
        let tree = FileManager.default.temporaryDirectory.appendingPathComponent("manpath-\(UUID().uuidString)")
        for page in pages {
            guard let section = page.split(separator: ".").last, Int(section) != nil else { continue }
            let directory = tree.appendingPathComponent("man\(section)")
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? FileManager.default.createSymbolicLink(
                at: directory.appendingPathComponent(page),
                withDestinationURL: source.appendingPathComponent(page)
            )
        }
        return tree
    }()

    /// systemd-analyze verify checks each Documentation=man: link with man(1) when our pages exist.
    static var verifyArguments: [String] { tree == nil ? ["--man=no"] : [] }
    static var environment: [String: String?] { tree.map { ["MANPATH": $0.path] } ?? [:] }
}
