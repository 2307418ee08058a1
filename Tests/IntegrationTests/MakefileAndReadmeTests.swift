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
        for (name, body) in scripts {
            let url = directory.appendingPathComponent(name)
            try "#!/bin/sh\n\(body)\n".write(to: url, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
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
