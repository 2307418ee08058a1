import Foundation
import Testing
import TestSupport

/// `twofactor-bench --preload`: the accounts written straight into the started daemon's state directory
/// are served by that daemon (their codes accepted, their replays denied), and exported like created ones.
extension BenchmarkToolTests {
    typealias Bench = BenchmarkToolTests

    @Test func verify_withPreloadedAccounts_acceptsEveryValidCode_andExportsTheirSecrets() throws {
        let directory = TemporaryDirectory()
        let exported = directory.path + "/secrets"
        let (status, json) = try Bench.bench("verify", ["--preload", "--export-secrets", exported])
        #expect(status == 0, "\(json)")
        #expect(json["preloaded"] as? Bool == true, "\(json)")
        #expect(Bench.int(json, "accounts") == 12, "\(json)")
        #expect(Bench.int(json, "errors") == 0, "\(json)")
        #expect(Bench.int(json, "valid_accepted") > 0, "\(json)")
        #expect(Bench.int(json, "valid_accepted") == Bench.int(json, "valid_sent"), "\(json)")
        #expect(Bench.int(json, "store_bytes") > 0, "the started daemon's data.mdb is reported: \(json)")
        #expect(Bench.int(json, "store_disk_bytes") > 0, "\(json)")
        let lines = try String(contentsOfFile: exported, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 12)
        for line in lines {
            let fields = line.split(separator: " ")
            #expect(fields.count == 2 && fields[1].count == 40, "name and a 20-byte hex secret: \(line)")
        }
    }

    @Test func replay_withPreloadedAccounts_deniesEveryReplay() throws {
        let (status, json) = try Bench.bench("replay", ["--preload"])
        #expect(status == 0, "\(json)")
        #expect(Bench.int(json, "replays_sent") > 0, "\(json)")
        #expect(Bench.int(json, "replays_denied") == Bench.int(json, "replays_sent"), "\(json)")
        #expect(Bench.int(json, "valid_accepted") == Bench.int(json, "replays_sent"), "\(json)")
        #expect(Bench.int(json, "errors") == 0, "\(json)")
    }

    @Test func preload_withSocket_isRefused() throws {
        let result = try run(
            Binaries.url("twofactor-bench"),
            ["verify", "--preload", "--socket", "/nonexistent/socket", "--seconds", "1"]
        )
        #expect(result.status != 0)
        #expect(result.standardError.contains("--preload"), "\(result.standardError)")
        #expect(result.standardError.contains("--socket"), "\(result.standardError)")
    }
}
