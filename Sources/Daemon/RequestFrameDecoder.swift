import NIOCore
import Wire

/// A request frame as it came off the socket: decoded, or what was wrong with it.
enum InboundFrame: Sendable, Equatable {
    case request(id: UInt32, Request)
    /// The frame broke the protocol; `id` is the request id when the body was long enough to hold one.
    case malformed(id: UInt32, WireError)
}

/// Splits the byte stream into request frames (docs/protocol.md "Framing").
///
/// The length prefix is checked against the protocol's limits before any body is buffered, so a
/// peer announcing a huge frame costs nothing. After the first malformed frame the rest of the
/// stream is discarded: the connection is about to be closed.
struct RequestFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = InboundFrame

    static let headerLength = 4
    private var failed = false

    mutating func decode(buffer: inout ByteBuffer) throws -> InboundFrame? {
        if failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        }
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: Self.headerLength) else { return nil }
        let bodyLength: Int
        do {
            bodyLength = try WireCodec.bodyLength(ofHeader: header, maximum: WireProtocol.maximumRequestBodyLength)
        } catch {
            failed = true
            return .malformed(id: 0, error)
        }
        guard buffer.readableBytes >= Self.headerLength + bodyLength else { return nil }
        buffer.moveReaderIndex(forwardBy: Self.headerLength)
        let body = buffer.readBytes(length: bodyLength)!
        do {
            let (id, request) = try WireCodec.decodeRequest(body: body)
            return .request(id: id, request)
        } catch {
            failed = true
            return .malformed(id: WireCodec.requestID(ofBody: body) ?? 0, error)
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> InboundFrame? {
        try decode(buffer: &buffer)
    }
}
