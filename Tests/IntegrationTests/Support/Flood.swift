import Foundation

/// Many connections from another user, driven by a Perl script (perl-base is essential in Debian,
/// so every test machine has it): `idle` connects and sends nothing; `flood` sends Hello and keeps
/// `pipeline` logins for unknown users in flight on every connection, answering each answer with
/// a new login; `codeChecks` does the same with CodeChecks without a code for `codeCheckUser`.
/// All run until the test closes their standard input, then print what they saw.
/// A flood can be made to return only once it is heavy, so that what the test does next happens
/// under load however fast the daemon is (a release build answers 5 logins before a fixed-length
/// flood has got going).
final class PeerFlood {
    enum Mode: String {
        case idle
        case flood
        case codeChecks = "codecheck"
    }

    private let child: PipedProcess
    private let output: BackgroundReader
    /// What the script printed before `output` took over, past the lines read.
    private var unread = Data()
    /// What the script printed once its connections were up, e.g. "ready 100".
    let readyLine: String
    /// With `heavyAfter`: "heavy answers=500 refused=120" once the flood has had that many answers and a
    /// fifth as many refusals (`busy` or `tooManyRequests`), or "weak answers=... refused=..." when 30 s passed
    /// first.
    private(set) var heavyLine = ""

    init(
        daemon: DaemonProcess,
        connections: Int,
        mode: Mode,
        pipeline: Int = 16,
        heavyAfter answers: Int = 0,
        uid: UInt32 = 65534,
        gid: UInt32? = nil,
        codeCheckUser: String = "nobody"
    ) throws {
        let script = daemon.directory.appendingPathComponent("flood.pl")
        if !FileManager.default.fileExists(atPath: script.path) {
            try Self.script.write(to: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: script.path)
        }
        child = try PipedProcess(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            [
                "--reuid=\(uid)", "--regid=\(gid ?? uid)", "--clear-groups", "/usr/bin/perl", script.path,
                daemon.socketPath, "\(connections)", mode.rawValue, "\(pipeline)", "\(answers)", codeCheckUser,
            ]
        )
        _ = BackgroundReader(child.error)
        readyLine = Self.line(from: child.output, after: &unread)
        if answers > 0 { heavyLine = Self.line(from: child.output, after: &unread) }
        output = BackgroundReader(child.output)
    }

    /// The next line of the script's output; what came with it stays in `pending`.
    private static func line(from pipe: Pipe, after pending: inout Data) -> String {
        while !pending.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
        }
        let end = pending.firstIndex(of: UInt8(ascii: "\n")).map { pending.index(after: $0) } ?? pending.endIndex
        let line = String(decoding: pending[..<end], as: UTF8.self)
        pending = Data(pending[end...])
        return line.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Connections the script holds open, from its ready line.
    var connected: Int { Int(readyLine.split(separator: " ").last ?? "") ?? 0 }

    /// Stops the script; returns its counts, e.g. ["answers": 5000, "busy": 0, "tooManyRequests": 3000, "closed": 0].
    func stop() throws -> [String: Int] {
        try child.closeInput()
        let text = String(decoding: unread, as: UTF8.self) + output.text()
        child.process.waitUntilExit()
        var counts: [String: Int] = [:]
        for pair in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = pair.split(separator: "=")
            if parts.count == 2, let value = Int(parts[1]) { counts[String(parts[0])] = value }
        }
        return counts
    }

    private static let script = #"""
        use strict;
        use warnings;
        use IO::Socket::UNIX;
        use IO::Select;
        use Socket qw(SOCK_STREAM);

        my ($path, $count, $mode, $pipeline, $heavy, $checked) = @ARGV;
        sub str { return pack("n", length $_[0]) . $_[0]; }
        sub frame { my $body = pack("C N", $_[0], $_[1]) . $_[2]; return pack("N", length $body) . $body; }
        my $id = 1;
        sub login { $id++; return frame(0x10, $id, str("ghost$id") . str("guess$id") . pack("C", 0) . str("")); }
        sub codecheck { $id++; return frame(0x12, $id, str($checked) . pack("C", 0) . str("") x 3); }
        sub request { return $mode eq "codecheck" ? codecheck() : login(); }

        my $select = IO::Select->new;
        my %buffer;
        my ($answers, $busy, $tooMany, $closed) = (0, 0, 0, 0);
        for (1 .. $count) {
            my $socket = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path) or last;
            $select->add($socket);
            $buffer{fileno $socket} = "";
            next if $mode eq "idle";
            my $burst = frame(0x01, 1, "TFAD" . pack("n n", 1, 1));
            $burst .= request() for 1 .. $pipeline;
            syswrite($socket, $burst);
        }
        $| = 1;
        print "ready ", scalar($select->handles), "\n";
        my $stdin = \*STDIN;
        $select->add($stdin);
        my $deadline = time + 30;
        while (1) {
            if ($heavy > 0 && ($answers >= $heavy && $busy + $tooMany >= $heavy / 5 || time > $deadline)) {
                print(($answers >= $heavy ? "heavy" : "weak"), " answers=$answers refused=", $busy + $tooMany, "\n");
                $heavy = 0;
            }
            for my $handle ($select->can_read(1)) {
                if (fileno($handle) == 0) {
                    print "answers=$answers busy=$busy tooManyRequests=$tooMany closed=$closed\n";
                    exit 0;
                }
                my $got = sysread($handle, my $chunk, 65536);
                if (!$got) {
                    $closed++;
                    $select->remove($handle);
                    next;
                }
                my $key = fileno $handle;
                $buffer{$key} .= $chunk;
                while (length $buffer{$key} >= 4) {
                    my $length = unpack("N", $buffer{$key});
                    last if length $buffer{$key} < 4 + $length;
                    my $body = substr($buffer{$key}, 4, $length);
                    substr($buffer{$key}, 0, 4 + $length) = "";
                    my ($type) = unpack("C", $body);
                    next if $type == 0x81;
                    $answers++;
                    my $error = $type == 0x80 ? unpack("n", substr($body, 5, 2)) : 0;
                    $busy++ if $error == 14;
                    $tooMany++ if $error == 31;
                    syswrite($handle, request()) if $mode ne "idle";
                }
            }
        }
        """#
}
