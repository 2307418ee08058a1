import Foundation
import Testing

/// What a new user meets before any binary runs: the README's promises about `make`, and the
/// install step's output.
@Suite struct MakefileAndReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The words of a `NAME := words` line of the Makefile.
    static func makefileList(_ name: String) throws -> [String] {
        let makefile = try String(contentsOf: root.appendingPathComponent("Makefile"), encoding: .utf8)
        let line = try #require(makefile.split(separator: "\n").first { $0.hasPrefix("\(name) :=") })
        return line.dropFirst("\(name) :=".count).split(separator: " ").map(String.init)
    }

    @Test func readme_listsTheMakefilesPackages() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
            .replacingOccurrences(of: "\n", with: " ")
        for name in ["DEB_PACKAGES", "TEST_PACKAGES"] {
            let packages = try Self.makefileList(name).joined(separator: " ")
            #expect(readme.contains("`\(packages)`"), "README.md does not list \(name) as `\(packages)`")
        }
    }

    /// Writes an executable shell script: `#!/bin/sh`, then `body`.
    static func writeScript(_ body: String, to url: URL) throws {
        try "#!/bin/sh\n\(body)\n".write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    }

    /// Fakes of dpkg-query (nothing is installed), apt-get (chatty) and sudo, first on the PATH.
    static func fakeTools(aptSucceeds: Bool) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fake-apt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scripts = [
            "dpkg-query": "exit 1",
            "apt-get":
                "echo 'Selecting previously unselected package x.'\necho 'Unpacking x ...'\nexit \(aptSucceeds ? 0 : 100)",
            "sudo": "exec \"$@\"",
        ]
        for (name, body) in scripts { try writeScript(body, to: directory.appendingPathComponent(name)) }
        return directory
    }

    @Test func installStep_printsOneLinePerPackageSet() throws {
        let fakes = try Self.fakeTools(aptSucceeds: true)
        defer { try? FileManager.default.removeItem(at: fakes) }
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/make"),
            ["--no-print-directory", "-C", Self.root.path, "test-deps"],
            environment: ["PATH": "\(fakes.path):/usr/bin:/bin"]
        )
        #expect(result.status == 0, "\(result.standardError)")
        let expected = [
            "Installing the C libraries: " + (try Self.makefileList("DEB_PACKAGES")).joined(separator: " "),
            "Installing the test tools: " + (try Self.makefileList("TEST_PACKAGES")).joined(separator: " "),
        ]
        #expect(result.standardOutput.split(separator: "\n").map(String.init) == expected, "\(result.standardOutput)")
    }

    @Test func installStep_showsAptsOutputWhenItFails() throws {
        let fakes = try Self.fakeTools(aptSucceeds: false)
        defer { try? FileManager.default.removeItem(at: fakes) }
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/make"),
            ["--no-print-directory", "-C", Self.root.path, "deps"],
            environment: ["PATH": "\(fakes.path):/usr/bin:/bin"]
        )
        #expect(result.status != 0)
        #expect(result.standardOutput.contains("Unpacking x"), "\(result.standardOutput)")
        #expect(result.standardOutput.contains("Installing the C libraries failed"))
    }
}

extension MakefileAndReadmeTests {
    /// `make test` runs the suite through Tests/with-deadline.sh: a command that outlives the deadline is
    /// stopped and the tests its event stream shows started but not ended are named; any other status
    /// passes through. (Run from a temporary directory: the script stops this checkout's test process.)
    @Test func withDeadline_stopsAHungRun_andNamesTheTestsThatNeverEnded() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deadline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Called as `fake --event-stream-output-path FILE --event-stream-version 0`, like swift test.
        let fake = directory.appendingPathComponent("fake-swift-test")
        let events = [
            #"{"kind":"event","payload":{"kind":"testStarted","testID":"Fake.ends()"}}"#,
            #"{"kind":"event","payload":{"kind":"testStarted","testID":"Fake\/hangs()"}}"#,
            #"{"kind":"event","payload":{"kind":"testEnded","testID":"Fake.ends()"}}"#,
        ]
        try Self.writeScript(
            "printf '%s\\n' \(events.map { "'\($0)'" }.joined(separator: " ")) > \"$2\"\nexec sleep 60",
            to: fake
        )
        let script = Self.root.appendingPathComponent("Tests/with-deadline.sh").path
        let started = Date()
        let hung = try run(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "cd \"$1\" && exec \"$2\" 2s ./fake-swift-test", "sh", directory.path, script]
        )
        #expect(hung.status == 124, "\(hung.standardError)")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(hung.standardError.contains("did not finish within 2s"), "\(hung.standardError)")
        #expect(hung.standardError.contains("  Fake/hangs()"), "\(hung.standardError)")
        #expect(!hung.standardError.contains("Fake.ends()"), "\(hung.standardError)")

        let failed = try run(URL(fileURLWithPath: script), ["10s", "/bin/sh", "-c", "exit 3", "sh"])
        #expect(failed.status == 3)
        #expect(!failed.standardError.contains("did not finish"))
    }

    /// `make test` switches XCTest off (and with it XCTest's empty "Executed 0 tests" summaries)
    /// only while no test uses XCTest, so that no test is ever skipped.
    @Test func makeTest_runsXCTestOnlyWhenSomeTestUsesIt() throws {
        let plan = try run(
            URL(fileURLWithPath: "/usr/bin/make"),
            ["--no-print-directory", "-n", "-C", Self.root.path, "test"]
        )
        let testLine = try #require(
            plan.standardOutput.split(separator: "\n").first { $0.contains(" test --skip-build") }
        )
        // Read here without grep: a line that imports XCTest, in any test file.
        var usesXCTest = false
        let files = FileManager.default.enumerator(atPath: Self.root.appendingPathComponent("Tests").path)
        while let path = files?.nextObject() as? String {
            guard path.hasSuffix(".swift") else { continue }
            let text = try String(contentsOf: Self.root.appendingPathComponent("Tests/" + path), encoding: .utf8)
            usesXCTest =
                usesXCTest
                || text.split(separator: "\n").contains {
                    $0.hasPrefix("import XCTest") || $0.hasPrefix("@testable import XCTest")
                }
        }
        #expect(testLine.contains("--disable-xctest") == !usesXCTest, "\(testLine)")
    }
}

extension MakefileAndReadmeTests {
    /// Every release build of the Makefile (install, bench) links the Swift runtime into the programs, with one
    /// set of flags, and installs or runs what that build made. Run with a fake `swift` that logs its arguments
    /// and answers `--show-bin-path` with a folder of fake programs.
    @Test func releaseBuilds_linkTheSwiftRuntimeStatically_withOneSetOfFlags() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("release-\(UUID().uuidString)")
        let binaries = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: binaries, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("swift.log")
        func script(_ name: String, in folder: URL, _ body: String) throws {
            try Self.writeScript(body, to: folder.appendingPathComponent(name))
        }
        try script(
            "swift",
            in: directory,
            "echo \"$*\" >> '\(log.path)'\ncase \"$*\" in *--show-bin-path*) echo '\(binaries.path)';; esac"
        )
        for name in ["twofactord", "twofactord-postgres", "twofactorctl", "twofactor"] {
            try script(name, in: binaries, "exit 0")
        }
        try script("twofactor-bench", in: binaries, "echo \"bench $*\" >> '\(log.path)'")

        let destination = directory.appendingPathComponent("root")
        let make = ["--no-print-directory", "-C", Self.root.path, "SWIFT=\(directory.path)/swift"]
        let installed = try run(
            URL(fileURLWithPath: "/usr/bin/make"),
            make + ["install", "DESTDIR=\(destination.path)", "PREFIX=/usr", "PAM_MODULE=\(directory.path)/none.so"]
        )
        #expect(installed.status == 0, "\(installed.standardOutput)\(installed.standardError)")
        let bench = try run(URL(fileURLWithPath: "/usr/bin/make"), make + ["bench", "BENCH_ARGS=verify --seconds 1"])
        #expect(bench.status == 0, "\(bench.standardOutput)\(bench.standardError)")

        let calls = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let builds = calls.filter { !$0.hasPrefix("bench ") }
        #expect(builds.count >= 4, "install builds and asks for the folder, bench builds twice: \(calls)")
        for call in builds {
            #expect(
                call.hasPrefix("build -c release --static-swift-stdlib --disable-local-rpath"),
                "a release build with other flags: \(call)"
            )
        }
        #expect(calls.contains("bench verify --seconds 1"), "make bench runs the load generator it built: \(calls)")
        let twofactor = destination.appendingPathComponent("usr/bin/twofactor")
        #expect(
            FileManager.default.contents(atPath: twofactor.path)
                == FileManager.default.contents(atPath: binaries.appendingPathComponent("twofactor").path)
        )
    }
}
