import Foundation
import Glibc
import Testing
import TestSupport

/// The man pages in man/ against the programs: lint-clean, and listing exactly the long options
/// and commands that `--help` shows. Generic on purpose: a new option or subcommand only needs
/// its line in the page.
@Suite struct ManPageTests {
    /// What `--help` of a command and of every subcommand under it shows.
    struct HelpSurface {
        var options: Set<String> = []
        var commands: [String] = []
        /// Each option's value names as `--help` shows them: "--period <seconds>" gives ["--period": ["seconds"]].
        var valueNames: [String: Set<String>] = [:]
    }

    /// Walks `program`'s commands through their `--help` output.
    static func helpSurface(_ program: String, path: [String] = []) throws -> HelpSurface {
        let help = try run(Binaries.url(program), path + ["--help"], environment: ["COLUMNS": "300"])
        guard help.status == 0 else { throw Failure("\(program) \(path) --help: \(help.standardError)") }
        var surface = HelpSurface()
        var section = ""
        var subcommands: [String] = []
        let subcommandLine = try Regex(#"  ([a-z0-9][a-z0-9-]*)(?: \(default\))?  +\S.*"#)
        // "  --period <seconds>  ...", "  -c <command>  ..."
        let valueLine = try Regex(#"  (-[a-z]|--[a-z0-9][a-z0-9-]*) <([^>]+)>"#)
        for line in help.standardOutput.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" "), line.hasSuffix(":") {
                section = String(line)
                continue
            }
            let words = line.split(separator: " ")
            guard let first = words.first, line.hasPrefix("  "), !line.hasPrefix("   ") || section == "OPTIONS:"
            else { continue }
            // Options stand in OPTIONS: and in any titled option group (e.g. "MAINTENANCE (...):").
            if section != "SUBCOMMANDS:", section != "ARGUMENTS:", line.hasPrefix("  -"),
                let match = try valueLine.prefixMatch(in: String(line)),
                let option = match.output[1].substring, let value = match.output[2].substring
            {
                surface.valueNames[String(option), default: []].insert(String(value))
            }
            if section != "SUBCOMMANDS:", section != "ARGUMENTS:", line.hasPrefix("  -") {
                // "  -h, --help", "  --socket <path>", "  --require-2fa/--no-require-2fa"
                let label = line.hasPrefix("  -") ? (words.first { $0.hasPrefix("--") } ?? first) : ""
                for option in label.split(separator: "/") where option.hasPrefix("--") && option != "--help" {
                    surface.options.insert(String(option))
                }
            } else if section == "SUBCOMMANDS:", let match = try subcommandLine.wholeMatch(in: String(line)) {
                // "  add     Create an account." (and not "  See 'twofactorctl help <subcommand>'")
                subcommands.append(String(match.output[1].substring ?? first))
            }
        }
        if subcommands.isEmpty, !path.isEmpty { surface.commands.append(path.joined(separator: " ")) }
        for subcommand in subcommands {
            let below = try helpSurface(program, path: path + [subcommand])
            surface.options.formUnion(below.options)
            surface.valueNames.merge(below.valueNames) { $0.union($1) }
            surface.commands += below.commands
        }
        return surface
    }

    /// The long options a page documents: every `Fl -name` on its `.It` lines.
    static func documentedOptions(_ page: String) throws -> Set<String> {
        let pattern = try Regex(#"Fl (-[a-z0-9][a-z0-9-]*)"#)
        var options = Set<String>()
        for line in page.split(separator: "\n") where line.hasPrefix(".It ") {
            for match in String(line).matches(of: pattern) {
                if let option = match.output[1].substring { options.insert("-" + option) }
            }
        }
        return options
    }

    static func page(_ name: String) throws -> String {
        try String(contentsOf: ManPages.source.appendingPathComponent(name), encoding: .utf8)
    }

    @Test(arguments: [("twofactord", "twofactord.8"), ("twofactorctl", "twofactorctl.8"), ("twofactor", "twofactor.1")])
    func page_listsTheSameOptionsAndCommandsAsHelp(program: String, pageName: String) throws {
        let page = try Self.page(pageName)
        let surface = try Self.helpSurface(program)
        #expect(surface.options.count >= 2, "no options found in \(program) --help")
        let documented = try Self.documentedOptions(page)
        #expect(
            surface.options.subtracting(documented).isEmpty,
            "\(pageName) lacks \(surface.options.subtracting(documented).sorted())"
        )
        #expect(
            documented.subtracting(surface.options).isEmpty,
            "\(pageName) documents \(documented.subtracting(surface.options).sorted()) that \(program) does not have"
        )
        for command in surface.commands {
            let item = "\n.It Cm \(command)"
            #expect(
                page.contains(item + " ") || page.contains(item + "\n"),
                "\(pageName) lacks the command '\(command)'"
            )
        }
    }

    /// `--help` and the page name an option's value alike (`--period <seconds>`, `Fl -period Ar seconds`), so that
    /// a reader who moves between the two sees one option, not two.
    @Test(arguments: [("twofactord", "twofactord.8"), ("twofactorctl", "twofactorctl.8"), ("twofactor", "twofactor.1")])
    func page_namesOptionValuesAsHelpDoes(program: String, pageName: String) throws {
        let page = try Self.page(pageName)
        let surface = try Self.helpSurface(program)
        #expect(surface.valueNames.count >= 3, "no option values found in \(program) --help")
        for (option, names) in surface.valueNames.sorted(by: { $0.key < $1.key }) {
            let flag = "Fl " + option.dropFirst()  // "--period" is "Fl -period", "-c" is "Fl c"
            for name in names.sorted() {
                let named = page.contains("\(flag) Ar \(name)")  // not the page itself in the failure
                #expect(
                    named,
                    "\(program) --help shows \(option) <\(name)>, which \(pageName) does not name '\(flag) Ar \(name)'"
                )
            }
        }
    }

    @Test func confPage_listsEveryKeyOfTheDaemon() throws {
        let page = try Self.page("twofactord.conf.5")
        var documented = Set<String>()
        var section = ""
        for line in page.split(separator: "\n") {
            if line.hasPrefix(".Ss [") { section = String(line.dropFirst(".Ss [".count).dropLast()) }
            if line.hasPrefix(".It Cm "), let key = line.dropFirst(".It Cm ".count).split(separator: " ").first {
                documented.insert("\(section).\(key)")
            }
        }
        let settings = try run(Binaries.url("twofactord"), ["--check-config"]).standardOutput
        var keys = Set<String>()
        section = ""
        for line in settings.split(separator: "\n") where !line.hasPrefix("#") {
            if line.hasPrefix("[") {
                section = String(line.dropFirst().dropLast())
            } else if let key = line.split(separator: " = ").first {
                keys.insert("\(section).\(key)")
            }
        }
        #expect(keys.count >= 10)
        #expect(keys == documented, "missing: \(keys.subtracting(documented)), extra: \(documented.subtracting(keys))")
    }

    /// The literal block of a page's EXAMPLES section that follows the paragraph starting with `lead`, as a
    /// shell reads it (mdoc's `\e` is a backslash).
    static func example(in pageName: String, after lead: String) throws -> String {
        let page = try Self.page(pageName)
        guard let examples = page.range(of: "\n.Sh EXAMPLES\n"),
            let paragraph = page.range(of: "\n" + lead, range: examples.upperBound..<page.endIndex),
            let start = page.range(of: ".Bd -literal -offset indent\n", range: paragraph.upperBound..<page.endIndex),
            let end = page.range(of: ".Ed\n", range: start.upperBound..<page.endIndex)
        else { throw Failure("\(pageName) has no example after '\(lead)'") }
        return page[start.upperBound..<end.lowerBound].replacingOccurrences(of: "\\e", with: "\\")
    }

    /// twofactord(8)'s "Run in the foreground for a test", run as written (the built twofactord first on the PATH),
    /// in a fresh folder in place of /tmp/tfd: a reader who pastes it gets a daemon listening on the socket.
    @Test func daemonPage_foregroundExample_startsADaemonAsWritten() throws {
        let example = try Self.example(in: "twofactord.8", after: "Run in the foreground")
        let folder = "/tmp/tfd-man-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let script = example.replacingOccurrences(of: "/tmp/tfd", with: folder)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("man-example-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let path = Binaries.directory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        // exec: the daemon replaces the shell, so that the signal below reaches it.
        let lines = script.split(separator: "\n").map(String.init)
        let lastCommand = lines.lastIndex { !$0.hasPrefix(" ") } ?? 0
        let runnable = lines.enumerated().map { $0.offset == lastCommand ? "exec " + $0.element : $0.element }
        let daemon = try RunningChild(
            ["/bin/sh", "-e", "-c", runnable.joined(separator: "\n")],
            output: log.path,
            environment: ["PATH": path]
        )
        defer {
            daemon.signal(SIGTERM)
            daemon.waitUntilExit()
        }
        try daemon.waitUntilListening(on: folder + "/socket") {
            "the example of twofactord.8 did not start a daemon:\n\((try? String(contentsOf: log, encoding: .utf8)) ?? "")"
        }
    }

    @Test func everyPage_isLintClean() throws {
        let pages = try FileManager.default.contentsOfDirectory(atPath: ManPages.source.path).sorted()
        #expect(pages.count >= 4)
        let lint = try run(
            URL(fileURLWithPath: "/usr/bin/mandoc"),
            ["-T", "lint", "-W", "warning"] + pages.map { ManPages.source.appendingPathComponent($0).path }
        )
        #expect(lint.status == 0, "\(lint.standardOutput)\(lint.standardError)")
        #expect(lint.standardOutput.isEmpty && lint.standardError.isEmpty, "\(lint.standardOutput)")
    }
}
