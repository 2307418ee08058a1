import Foundation
import Testing

/// The manifest tells the truth: every module a target imports is one of its declared
/// dependencies. SwiftPM's `--explicit-target-dependency-import-check` (on in `make test`) only
/// catches imports of targets outside a target's dependency closure; an import that works
/// because a dependency of a dependency brings it along passes there, and fails here.
@Suite struct PackageManifestTests {
    /// Modules of the toolchain and the system, which no manifest declares.
    static let toolchainModules: Set<String> = [
        "Swift", "_Concurrency", "Glibc", "Darwin", "Foundation", "FoundationEssentials", "FoundationXML",
        "FoundationNetworking", "Dispatch", "Synchronization",
        "Testing", "XCTest",
    ]

    struct Target {
        var name: String
        var directory: URL
        var dependencies: Set<String>
    }

    /// The targets as SwiftPM reads the manifest (`swift package dump-package`), with the module
    /// names of their direct dependencies.
    static func targets() throws -> [Target] {
        let root = MakefileAndReadmeTests.root
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dump-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        // A scratch path of its own, so that this never waits for the lock of the build running the tests.
        let dump = try run(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["swift", "package", "--package-path", root.path, "--scratch-path", scratch.path, "dump-package"]
        )
        guard dump.status == 0 else { throw Failure("swift package dump-package: \(dump.standardError)") }
        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(dump.standardOutput.utf8)) as? [String: Any]
        )
        let targets = try #require(manifest["targets"] as? [[String: Any]])
        return try targets.map { target in
            let name = try #require(target["name"] as? String)
            let type = target["type"] as? String
            let path = (target["path"] as? String) ?? ((type == "test" ? "Tests/" : "Sources/") + name)
            var dependencies = Set<String>()
            for dependency in (target["dependencies"] as? [[String: Any]]) ?? [] {
                for kind in ["byName", "target", "product"] {
                    if let value = dependency[kind] as? [Any], let module = value.first as? String {
                        dependencies.insert(module)
                    }
                }
            }
            return Target(name: name, directory: root.appendingPathComponent(path), dependencies: dependencies)
        }
    }

    /// The modules imported by the Swift files under `directory`.
    static func imports(under directory: URL) throws -> [String: String] {
        let pattern = try Regex(
            #"^\s*(?:@\w+\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+(?:(?:class|struct|enum|protocol|func|var|let|typealias)\s+)?(\w+)"#
        )
        var found: [String: String] = [:]
        let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            // Lines inside a multi-line string literal (a Python script, say) are not Swift.
            var inStringLiteral = false
            for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") {
                if line.components(separatedBy: "\"\"\"").count % 2 == 0 { inStringLiteral.toggle() }
                if inStringLiteral { continue }
                if let match = try pattern.firstMatch(in: String(line)),
                    let module = match.output[1].substring
                {
                    found[String(module)] = file.lastPathComponent
                }
            }
        }
        return found
    }

    @Test func everyImportIsADeclaredDependency() throws {
        let targets = try Self.targets()
        #expect(targets.count > 10, "the manifest dump lost its targets")
        var undeclared: [String] = []
        for target in targets {
            for (module, file) in try Self.imports(under: target.directory).sorted(by: { $0.key < $1.key })
            where module != target.name && !Self.toolchainModules.contains(module)
                && !target.dependencies.contains(module)
            {
                undeclared.append("\(target.name) imports \(module) (in \(file)) without declaring it")
            }
        }
        #expect(undeclared.isEmpty, "\(undeclared.joined(separator: "\n"))")
    }

    @Test func theImportScannerSeesImports() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imports-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source =
            "import Wire\n@testable import Daemon\npublic import struct NIOCore.ByteBuffer\n// import Nothing\n"
            + "let s = \"\"\"\n    import hashlib\n    \"\"\"\n"
        try source.write(to: directory.appendingPathComponent("A.swift"), atomically: true, encoding: .utf8)
        #expect(Set(try Self.imports(under: directory).keys) == ["Wire", "Daemon", "NIOCore"])
    }
}
