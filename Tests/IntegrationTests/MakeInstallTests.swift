import Foundation
import Testing

/// `make install` and `make uninstall` into a scratch DESTDIR, with the binaries this test run
/// built (BIN_DIR) so that nothing is rebuilt under the running test.
@Suite struct MakeInstallTests {
    static func make(
        _ target: String,
        destination: URL,
        pamModule: URL,
        prefix: String = "/usr"
    ) throws
        -> CommandResult
    {
        try run(
            URL(fileURLWithPath: "/usr/bin/make"),
            [
                "--no-print-directory", "-C", MakefileAndReadmeTests.root.path, target,
                "DESTDIR=\(destination.path)", "PREFIX=\(prefix)", "BIN_DIR=\(Binaries.directory.path)",
                "PAM_MODULE=\(pamModule.path)",
            ]
        )
    }

    /// Regular files under `root`, as paths relative to it, with their permission bits.
    static func tree(_ root: URL) -> [String: Int] {
        var files: [String: Int] = [:]
        let walker = FileManager.default.enumerator(atPath: root.path)
        while let path = walker?.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(path).path)
            if attributes?[.type] as? FileAttributeType == .typeRegular {
                files["/" + path] = attributes?[.posixPermissions] as? Int
            }
        }
        return files
    }

    @Test func install_putsEverythingWhereADebianPackageWould_andUninstallRemovesIt() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(UUID().uuidString)")
        let destination = scratch.appendingPathComponent("root")
        let pamModule = scratch.appendingPathComponent("pam_twofactor.so")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        try Data("not really a module".utf8).write(to: pamModule)

        let installed = try Self.make("install", destination: destination, pamModule: pamModule)
        #expect(installed.status == 0, "\(installed.standardOutput)\(installed.standardError)")
        let files = Self.tree(destination)
        let expected: [String: Int] = [
            "/usr/sbin/twofactord": 0o755, "/usr/sbin/twofactord-postgres": 0o755, "/usr/bin/twofactorctl": 0o755,
            "/usr/bin/twofactor": 0o755,
            "/usr/lib/systemd/system/twofactord.service": 0o644, "/usr/lib/systemd/system/twofactord.socket": 0o644,
            "/usr/lib/sysusers.d/twofactord.conf": 0o644, "/usr/lib/tmpfiles.d/twofactord.conf": 0o644,
            "/usr/share/man/man1/twofactor.1": 0o644, "/usr/share/man/man5/twofactord.conf.5": 0o644,
            "/usr/share/man/man8/twofactord.8": 0o644, "/usr/share/man/man8/twofactorctl.8": 0o644,
            "/usr/share/doc/twofactord/examples/twofactord.conf": 0o644,
        ]
        for (path, mode) in expected {
            #expect(files[path] == mode, "\(path): \(String(describing: files[path].map { String($0, radix: 8) }))")
        }
        // Every page in man/ (pam_twofactor.8 too, once written) and the PAM module in the multiarch directory.
        for page in try FileManager.default.contentsOfDirectory(atPath: ManPages.source.path) {
            let section = page.split(separator: ".").last.map(String.init) ?? ""
            #expect(files["/usr/share/man/man\(section)/\(page)"] == 0o644, "\(page)")
        }
        let module = files.keys.first { $0.hasSuffix("/security/pam_twofactor.so") }
        #expect(module?.hasPrefix("/usr/lib/") == true || module?.hasPrefix("/lib/") == true, "\(files.keys.sorted())")

        let service = try String(
            contentsOf: destination.appendingPathComponent("usr/lib/systemd/system/twofactord.service"),
            encoding: .utf8
        )
        #expect(service.contains("\nExecStart=/usr/sbin/twofactord\n") && !service.contains("@SBINDIR@"), "\(service)")
        let help = try run(destination.appendingPathComponent("usr/sbin/twofactord"), ["--help"])
        #expect(help.status == 0)
        // The example configuration is one the daemon accepts.
        let example = try run(
            destination.appendingPathComponent("usr/sbin/twofactord"),
            [
                "--config",
                destination.appendingPathComponent("usr/share/doc/twofactord/examples/twofactord.conf").path,
                "--check-config",
            ]
        )
        #expect(example.status == 0, "\(example.standardError)")

        let removed = try Self.make("uninstall", destination: destination, pamModule: pamModule)
        #expect(removed.status == 0, "\(removed.standardError)")
        #expect(Self.tree(destination).isEmpty, "\(Self.tree(destination).keys.sorted())")
    }

    /// The native-messaging host ran /usr/bin/twofactor, while `make install` puts twofactor in /usr/local/bin by
    /// default, and did not install the host at all: a browser following the manifest started nothing. The host
    /// and its manifests are now installed with the paths of this installation.
    @Test(arguments: ["/usr/local", "/usr"])
    func install_nativeMessagingHost_runsTheInstalledTwofactor(prefix: String) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(UUID().uuidString)")
        let destination = scratch.appendingPathComponent("root")
        let pamModule = scratch.appendingPathComponent("pam_twofactor.so")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }

        let installed = try Self.make("install", destination: destination, pamModule: pamModule, prefix: prefix)
        #expect(installed.status == 0, "\(installed.standardOutput)\(installed.standardError)")
        let files = Self.tree(destination)
        let host = "\(prefix)/lib/twofactord/twofactor-native-host"
        try #require(files[host] == 0o755, "\(files.keys.sorted())")
        let script = try String(
            contentsOf: destination.appendingPathComponent(String(host.dropFirst())),
            encoding: .utf8
        )
        let exec = try #require(script.split(separator: "\n").first { $0.hasPrefix("exec ") }, "\(script)")
        let program = String(exec.split(separator: " ")[1])
        #expect(program == "\(prefix)/bin/twofactor" && files[program] == 0o755, "\(exec)")
        for manifest in ["org.twofactord.helper.json", "org.twofactord.helper.firefox.json"] {
            let path = "\(prefix)/share/doc/twofactord/examples/native-messaging/\(manifest)"
            #expect(files[path] == 0o644, "\(files.keys.sorted())")
            let data = try Data(contentsOf: destination.appendingPathComponent(String(path.dropFirst())))
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(object["path"] as? String == host, "\(manifest): \(object)")
        }

        let removed = try Self.make("uninstall", destination: destination, pamModule: pamModule, prefix: prefix)
        #expect(removed.status == 0, "\(removed.standardError)")
        #expect(Self.tree(destination).isEmpty, "\(Self.tree(destination).keys.sorted())")
    }
}
