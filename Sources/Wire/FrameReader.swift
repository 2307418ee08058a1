/// Splits a byte stream into frame bodies, for blocking clients and tests (the daemon uses NIO's
/// decoder instead). Append bytes as they arrive, then pull every complete body.
///
/// The length prefix is checked as soon as its 4 bytes are in, before any of the body is
/// buffered, so a peer cannot make the reader hold more than one maximal frame.
/// Once `nextBody` throws, the stream cannot be resynchronised: close the connection.
public struct FrameReader: Sendable {
    private let maximumBodyLength: Int
    private var buffer: [UInt8] = []
    private var start = 0

    /// `maximumBodyLength` is `WireProtocol.maximumResponseBodyLength` for a client and
    /// `maximumRequestBodyLength` for a server.
    public init(maximumBodyLength: Int) {
        self.maximumBodyLength = maximumBodyLength
    }

    /// Bytes appended and not yet returned by `nextBody`.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete body (without its length prefix), or nil when more bytes are needed.
    /// Throws when the length prefix is below the minimum or above the maximum.
    public mutating func nextBody() throws(WireError) -> [UInt8]? {
        let headerEnd = start + WireProtocol.headerLength
        guard buffer.count >= headerEnd else { return nil }
        let length = try WireCodec.bodyLength(ofHeader: buffer[start..<headerEnd], maximum: maximumBodyLength)
        guard buffer.count - headerEnd >= length else { return nil }
        let body = Array(buffer[headerEnd..<headerEnd + length])
        start = headerEnd + length
        // Drop consumed bytes once they are the larger part, so a long session stays bounded
        // without moving bytes after every frame.
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096, start > buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        return body
    }
}
