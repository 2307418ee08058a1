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

    /// The manifest's targets as SwiftPM reads them (`swift package dump-package`).
    static func manifestTargets() throws -> [[String: Any]] {
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
        return try #require(manifest["targets"] as? [[String: Any]])
    }

    /// The targets, with the module names of their direct dependencies.
    static func targets() throws -> [Target] {
        let root = MakefileAndReadmeTests.root
        return try manifestTargets().map { target in
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

    /// The LMDB daemon links no PostgreSQL store: PostgresNIO would bring Foundation, CoreFoundation and ICU
    /// along, about 4 MiB of the idle daemon (FleetStore.swift). twofactord-postgres links it.
    @Test func twofactord_dependsOnNoPostgresModule_andTwofactordPostgresDoes() throws {
        let targets = Dictionary(uniqueKeysWithValues: try Self.targets().map { ($0.name, $0) })
        func closure(of name: String) -> Set<String> {
            var seen: Set<String> = []
            var pending = [name]
            while let next = pending.popLast() {
                for dependency in targets[next]?.dependencies ?? [] where seen.insert(dependency).inserted {
                    pending.append(dependency)
                }
            }
            return seen
        }
        let postgres: Set<String> = ["PostgresAccountStore", "PostgresNIO"]
        let lmdbDaemon = closure(of: "twofactord")
        #expect(lmdbDaemon.contains("TwofactordCommand") && lmdbDaemon.contains("LMDBAccountStore"), "\(lmdbDaemon)")
        #expect(lmdbDaemon.isDisjoint(with: postgres), "\(lmdbDaemon.intersection(postgres).sorted())")
        #expect(closure(of: "twofactord-postgres").isSuperset(of: postgres))
    }

    /// The linker flags each executable target gives release builds.
    static func releaseLinkerFlags() throws -> [String: [String]] {
        var flags: [String: [String]] = [:]
        for target in try manifestTargets() where target["type"] as? String == "executable" {
            let name = try #require(target["name"] as? String)
            for setting in (target["settings"] as? [[String: Any]]) ?? [] {
                let condition = setting["condition"] as? [String: Any]
                guard setting["tool"] as? String == "linker", condition?["config"] as? String == "release",
                    let unsafe = (setting["kind"] as? [String: Any])?["unsafeFlags"] as? [String: Any],
                    let values = unsafe["_0"] as? [String]
                else { continue }
                flags[name, default: []] += values
            }
        }
        return flags
    }

    /// CI builds debug only, so the release link (`releaseLinking` in Package.swift) is tried here on a small
    /// program that uses what it could break: Foundation and CoreFoundation linked statically (they look
    /// symbols up at run time), a task on the concurrency runtime's global executor, and conformance lookups.
    /// The toolchain's lld must take the flags, the program must run, and it must carry packed relocations,
    /// export none of its own symbols, and load no C++ runtime or unwinder (`link/` names their archives).
    @Test func releaseLinkFlags_linkAProgramThatRuns_withPackedRelocationsAndNoExports() throws {
        let flags = try Self.releaseLinkerFlags()
        #expect(
            Set(flags.keys) == ["twofactord", "twofactord-postgres", "twofactor", "twofactorctl", "twofactor-bench"],
            "\(flags)"
        )
        #expect(Set(flags.values).count == 1, "every program links the same way: \(flags)")
        let releaseFlags = try #require(flags["twofactord"])
        #expect(releaseFlags.contains("pack-relative-relocs") && releaseFlags.contains("--no-export-dynamic"))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("link-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = """
            import Foundation
            let json = try JSONEncoder().encode(["answer": 42])
            let formatted = String(format: "%05.1f", 3.25)
            let date = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: 0))
            let fromTask = await Task.detached { (1...10).reduce(0, +) }.value
            let described = ([1, "two", 3.0] as [Any]).compactMap { $0 as? any CustomStringConvertible }.count
            print(String(decoding: json, as: UTF8.self), formatted, date, fromTask, described)
            """
        let main = directory.appendingPathComponent("main.swift")
        try source.write(to: main, atomically: true, encoding: .utf8)
        let program = directory.appendingPathComponent("program")
        let link = try run(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["swiftc", "-O", "-static-stdlib", main.path, "-o", program.path] + releaseFlags
        )
        try #require(link.status == 0, "swiftc with the release link flags: \(link.standardError)")

        let output = try run(program, [])
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput == "{\"answer\":42} 003.2 1970-01-01T00:00:00Z 55 3\n")

        let dynamic = try run(URL(fileURLWithPath: "/usr/bin/readelf"), ["--dynamic", "--wide", program.path])
        #expect(dynamic.standardOutput.contains("(RELR)"), "no packed relocations:\n\(dynamic.standardOutput)")
        let needed = dynamic.standardOutput.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(needed.contains { $0.contains("[libc.so.6]") }, "\(needed)")
        #expect(
            !needed.contains { $0.contains("libstdc++") || $0.contains("libgcc_s") },
            "the program loads the C++ runtime or unwinder:\n\(needed.joined(separator: "\n"))"
        )
        // Defined symbols in the dynamic table (the undefined ones are what the program imports).
        let symbols = try run(URL(fileURLWithPath: "/usr/bin/readelf"), ["--dyn-syms", "--wide", program.path])
        let exported = symbols.standardOutput.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.count >= 8 && fields[1].allSatisfy(\.isHexDigit) && fields[6] != "UND"
                && (fields[4] == "GLOBAL" || fields[4] == "WEAK")
        }
        // With `-export-dynamic` even this program exports five (`main`, `_start`, `__data_start`, ...).
        #expect(exported.isEmpty, "the program exports \(exported.count) symbols:\n\(exported.prefix(20))")
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
