import Glibc
import TestSupport
import Wire

/// One accepted connection on the server side of a test.
struct ServerConnection: Sendable {
    let descriptor: Int32

    /// The next request, or nil when the client closed or sent a bad frame.
    func readRequest() -> (id: UInt32, request: Request)? {
        var reader = FrameReader(maximumBodyLength: WireProtocol.maximumRequestBodyLength)
        var byte: UInt8 = 0
        while true {
            if let body = try? reader.nextBody() { return try? WireCodec.decodeRequest(body: body) }
            guard read(descriptor, &byte, 1) == 1 else { return nil }
            reader.append([byte])
        }
    }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { return }
            offset += written
        }
    }

    func answer(_ response: Response, id: UInt32) { write(WireCodec.encodeResponse(response, id: id)) }

    /// Reads the Hello and answers version 1; returns false when something else came.
    func acceptHello() -> Bool {
        guard let (id, request) = readRequest(), case .hello = request else { return false }
        answer(.helloReply(version: 1), id: id)
        return true
    }
}

/// A real listening AF_UNIX socket in a fresh temporary directory, serving one connection with
/// a script on its own thread.
final class TestServer {
    let directory: String
    let path: String
    private let listener: Int32
    private var thread: pthread_t?
    private var finished = false

    /// `listening: false` binds the socket file without listening, so connecting is refused.
    init(listening: Bool = true) {
        var template = Array("/tmp/clienttests.XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template)!)
        path = directory + "/socket"
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        precondition(bound == 0, "bind failed: \(errno)")
        if listening { precondition(listen(listener, 4) == 0) }
    }

    /// Accepts one connection and runs `script` on it, then closes it.
    func serve(_ script: @escaping @Sendable (ServerConnection) -> Void) {
        let listener = self.listener
        thread = startThread {
            let descriptor = accept(listener, nil, nil)
            guard descriptor >= 0 else { return }
            script(ServerConnection(descriptor: descriptor))
            close(descriptor)
        }
    }

    /// Waits for the script to finish, then removes the socket and its directory. Safe to call
    /// twice: the second call does nothing (closing the descriptor twice could close another
    /// test's socket).
    func finish() {
        guard !finished else { return }
        finished = true
        // Wakes an accept that no client will ever satisfy, so a failed test cannot hang here.
        shutdown(listener, Int32(SHUT_RDWR))
        if let thread { pthread_join(thread, nil) }
        close(listener)
        unlink(path)
        rmdir(directory)
    }
}

/// A result the server thread hands back to the test.
final class Mailbox<Value: Sendable>: @unchecked Sendable {
    // The mutex makes the one value safe to set on the server thread and read on the test's.
    private var mutex = pthread_mutex_t()
    private var stored: Value?

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    var value: Value? {
        get {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            return stored
        }
        set {
            pthread_mutex_lock(&mutex)
            stored = newValue
            pthread_mutex_unlock(&mutex)
        }
    }
}
