import Foundation
import Wire

/// One protocol connection made by another user: a Perl relay, started through setpriv as that user, connects
/// to the daemon's socket (so SO_PEERCRED names that user) and copies bytes between the socket and its standard
/// streams, while the test encodes the requests and decodes the answers. The connection stays open between
/// calls, as a client that logged in and keeps its session would hold it.
final class PeerConnection {
    private let child: PipedProcess
    private var nextID: UInt32 = 2

    init(daemon: DaemonProcess, uid: UInt32 = nobodyUID) throws {
        let script = daemon.directory.appendingPathComponent("relay.pl")
        if !FileManager.default.fileExists(atPath: script.path) {
            try Self.script.write(to: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: script.path)
        }
        child = try PipedProcess(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/perl", script.path, daemon.socketPath]
        )
        _ = BackgroundReader(child.error)
        send(WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1))
        guard let body = readFrameBody(), case (1, .helloReply)? = try? WireCodec.decodeResponse(body: body) else {
            throw Failure("no HelloReply on a connection as uid \(uid)")
        }
    }

    deinit {
        try? child.closeInput()
        child.process.waitUntilExit()
    }

    /// Sends `request` and returns the daemon's answer, or nil when the connection ended first.
    func call(_ request: Request) -> Response? {
        let id = nextID
        nextID &+= 1
        send(WireCodec.encodeRequest(request, id: id))
        guard let body = readFrameBody(), let (answerID, response) = try? WireCodec.decodeResponse(body: body),
            answerID == id
        else { return nil }
        return response
    }

    private func send(_ bytes: [UInt8]) {
        _ = ignoreBrokenPipes
        try? child.input.fileHandleForWriting.write(contentsOf: Data(bytes))
    }

    private func readFrameBody() -> [UInt8]? {
        guard let header = read(count: 4) else { return nil }
        return read(count: header.reduce(0) { ($0 << 8) | Int($1) })
    }

    private func read(count: Int) -> [UInt8]? {
        var received: [UInt8] = []
        while received.count < count {
            guard let chunk = try? child.output.fileHandleForReading.read(upToCount: count - received.count),
                !chunk.isEmpty
            else { return nil }
            received += chunk
        }
        return received
    }

    private static let script = #"""
        use strict;
        use warnings;
        use IO::Socket::UNIX;
        use Socket qw(SOCK_STREAM);

        my $socket = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0]) or die "connect: $!\n";
        binmode STDIN;
        binmode STDOUT;
        sub copy {
            my ($from, $to) = @_;
            while (my $got = sysread($from, my $chunk, 65536)) {
                my $offset = 0;
                while ($offset < $got) {
                    my $written = syswrite($to, $chunk, $got - $offset, $offset);
                    return unless defined $written;
                    $offset += $written;
                }
            }
        }
        my $pid = fork() // die "fork: $!\n";
        if ($pid == 0) {
            copy(\*STDIN, $socket);
            shutdown($socket, 1);
            exit 0;
        }
        copy($socket, \*STDOUT);
        waitpid($pid, 0);
        """#
}
