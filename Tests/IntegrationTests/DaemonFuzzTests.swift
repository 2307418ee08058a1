import Foundation
import Testing
import TestSupport
import Wire

/// The real daemon under 600 connections of seeded, mutated requests from an unprivileged user:
/// it must not crash, every connection must end (no hang), and the store must not change.
@Suite struct DaemonFuzzTests {
    @Test func mutatedRequestsFromNobody_crashNothing_hangNothing_changeNothing() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(
            ["user", "add", "sentinel", "--require-2fa", "--password-stdin"],
            input: "sentinel-pass-phrase\n"
        )
        let before = try daemon.ctl(["user", "list", "--json"])
        #expect(before.status == 0 && before.standardOutput.contains("sentinel"), "\(before.standardError)")

        let corpus = daemon.directory.appendingPathComponent("corpus")
        try Data(Self.corpus(connections: 600)).write(to: corpus)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: corpus.path)
        let script = daemon.directory.appendingPathComponent("replay.pl")
        try Self.replayScript.write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: script.path)
        let replayed = try run(
            URL(fileURLWithPath: "/usr/bin/perl"),
            [script.path, daemon.socketPath, corpus.path],
            uid: 65534
        )

        #expect(replayed.standardOutput.contains("connections=600 hung=0"), "\(replayed)")
        #expect(daemon.process?.isRunning == true, "the daemon died:\n\(daemon.log().suffix(3000))")
        #expect(!daemon.log().contains("Fatal error"))
        let after = try daemon.ctl(["user", "list", "--json"])
        #expect(after.standardOutput == before.standardOutput, "the store changed")
        #expect(try daemon.login("sentinel", password: "wrong").status == 1, "the daemon still answers")
    }

    /// Records of [u32 length][bytes], one per connection: a Hello (now and then broken), then one to
    /// three requests, most of them mutated. No request names `sentinel`, so nothing may touch it.
    static func corpus(connections: Int) -> [UInt8] {
        var generator = SeededGenerator(seed: 0xDAE_F022)
        let password = Array("pw".utf8)
        let requests: [Request] = [
            .login(user: "ghost", password: password, codeKind: .totp, code: "123456"),
            .login(user: "ghost", password: password, codeKind: .none, code: ""),
            .login(user: "ghost", password: password, codeKind: .recovery, code: "ABCD-EFGH-IJKL-MNOP"),
            .userAdd(user: "intruder", organization: "", role: .admin, requireTwoFactor: false, password: password),
            .userSetPassword(user: "root", password: password),
            .userList(organization: "", after: "", limit: 10),
            .enrollBegin(user: "ghost", algorithm: .sha1, digits: 6, period: 30),
            .twoFactorDisable(user: "ghost"),
            .unlock(user: "ghost"),
            .organizationAdd(organization: "evil", requireTwoFactor: false),
            .auditQuery(user: "", organization: "", since: 0, before: 0, limit: 5),
            .loginFrom(
                user: "ghost",
                password: password,
                codeKind: .totp,
                code: "123456",
                origin: LoginOrigin(service: "sshd", remoteHost: "192.0.2.7")
            ),
            .codeCheck(user: "ghost", codeKind: .totp, code: "123456", origin: LoginOrigin(service: "sudo")),
        ]
        var records: [UInt8] = []
        for _ in 0..<connections {
            var bytes = WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1)
            if Int.random(in: 0..<10, using: &generator) == 0 { bytes = mutate(bytes, using: &generator) }
            for id in 2..<UInt32.random(in: 3...5, using: &generator) {
                let frame = WireCodec.encodeRequest(requests.randomElement(using: &generator)!, id: id)
                bytes += Int.random(in: 0..<4, using: &generator) == 0 ? frame : mutate(frame, using: &generator)
            }
            let count = UInt32(bytes.count)
            records += [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)]
            records += bytes
        }
        return records
    }

    private static func mutate(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        var result = bytes
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            let index = Int.random(in: 0..<result.count, using: &generator)
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: result[index] = UInt8.random(in: 0...255, using: &generator)
            case 1: result[index] = UInt8.random(in: 0...9, using: &generator)
            case 2 where result.count > 1: result.remove(at: index)
            default: result.insert(UInt8.random(in: 0...255, using: &generator), at: index)
            }
        }
        return result
    }

    /// Sends each record on its own connection, shuts down writing, and reads until the daemon closes;
    /// a connection still open after 10 s counts as hung.
    static let replayScript = #"""
        use strict;
        use warnings;
        use IO::Socket::UNIX;
        use IO::Select;
        use Socket qw(SOCK_STREAM);

        my ($path, $corpus) = @ARGV;
        open(my $in, "<:raw", $corpus) or die "cannot read $corpus: $!";
        my ($connections, $hung) = (0, 0);
        while (read($in, my $header, 4) == 4) {
            my $length = unpack("N", $header);
            read($in, my $bytes, $length) == $length or die "short record";
            my $socket = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path) or die "connect: $!";
            $connections++;
            local $SIG{PIPE} = "IGNORE";
            syswrite($socket, $bytes);
            shutdown($socket, 1);
            my $select = IO::Select->new($socket);
            while (1) {
                if (!$select->can_read(10)) { $hung++; last; }
                my $got = sysread($socket, my $chunk, 65536);
                last if !$got;
            }
            close($socket);
        }
        print "connections=$connections hung=$hung\n";
        """#
}
