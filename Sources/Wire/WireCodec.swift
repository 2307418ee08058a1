/// Turns messages into frames and bodies into messages, following docs/protocol.md.
///
/// The encoders trust their caller: they do not check field limits, and a value outside them
/// yields a frame the peer refuses. Call `validate` first on values that came from a person.
/// The decoders enforce every rule of the document, so the daemon may act on what they return.
public enum WireCodec {
    /// The whole frame for `request`: the 4-byte length prefix, then the body. It is built in one array whose
    /// capacity fits the largest valid request, so that no copy or regrowth leaves a password behind: a client
    /// `wipe`s the frame it sent and has wiped every copy the encoding made.
    public static func encodeRequest(_ request: Request, id: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: WireProtocol.headerLength + WireProtocol.maximumRequestBodyLength)
        writer.u32(0)
        writeBody(request, id: id, into: &writer)
        writer.setU32(UInt32(truncatingIfNeeded: writer.bytes.count - WireProtocol.headerLength), at: 0)
        return writer.bytes
    }

    /// The whole frame for `response`: the 4-byte length prefix, then the body.
    public static func encodeResponse(_ response: Response, id: UInt32) -> [UInt8] {
        frame(responseBody(response, id: id))
    }

    /// Checks a 4-byte length prefix against the minimum and `maximum` (pass
    /// `WireProtocol.maximumRequestBodyLength` or `maximumResponseBodyLength`) and returns the
    /// body length. Call it before buffering the body. Inlinable, so that each caller gets it specialized for its
    /// collection: a client starts without paying the generic version's runtime type lookups.
    @inlinable public static func bodyLength(
        ofHeader header: some Collection<UInt8>,
        maximum: Int
    ) throws(WireError) -> Int {
        guard header.count == WireProtocol.headerLength else {
            throw .malformed("a length prefix is 4 bytes, not \(header.count)")
        }
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        guard length >= WireProtocol.minimumBodyLength else {
            throw .malformed("a frame body is at least \(WireProtocol.minimumBodyLength) bytes, not \(length)")
        }
        guard length <= maximum else {
            throw WireError(
                code: .frameTooLarge,
                message: "a frame body of \(length) bytes exceeds the maximum of \(maximum)"
            )
        }
        return length
    }

    /// The request id of a body, or nil when the body is shorter than 5 bytes. The daemon echoes
    /// it in the Error it sends when `decodeRequest` throws.
    public static func requestID(ofBody body: some Collection<UInt8>) -> UInt32? {
        guard body.count >= WireProtocol.minimumBodyLength else { return nil }
        return body.dropFirst().prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Throws the error the daemon would answer if `request` were sent, so a client can refuse
    /// bad input before connecting. The body it encodes and the passwords it decodes are wiped.
    public static func validate(_ request: Request) throws(WireError) {
        var body = requestBody(request, id: 0)
        defer { wipe(&body) }
        let decoded = try decodeRequest(body: body)
        for var password in decoded.request.passwords { wipe(&password) }
        try checkSize(body.count, maximum: WireProtocol.maximumRequestBodyLength)
    }

    /// Throws the error a client would see if `response` were sent (a UserList page too large
    /// for one frame, an over-long message).
    public static func validate(_ response: Response) throws(WireError) {
        let body = responseBody(response, id: 0)
        _ = try decodeResponse(body: body)
        try checkSize(body.count, maximum: WireProtocol.maximumResponseBodyLength)
    }

    /// Decodes one request body (without its length prefix).
    public static func decodeRequest(body: some Collection<UInt8>) throws(WireError) -> (id: UInt32, request: Request) {
        var reader = ByteReader(Array(body))
        let (type, id) = try readHeader(&reader)
        guard let type, type.isRequest else {
            throw WireError(code: .unknownMessageType, message: "\(typeName(body)) is not a request type")
        }
        let request = try RequestFields.decode(type, &reader)
        try reader.finish()
        return (id, request)
    }

    /// Decodes one response body (without its length prefix).
    public static func decodeResponse(
        body: some Collection<UInt8>
    ) throws(WireError) -> (id: UInt32, response: Response) {
        var reader = ByteReader(Array(body))
        let (type, id) = try readHeader(&reader)
        guard let type, !type.isRequest else {
            throw WireError(code: .unknownMessageType, message: "\(typeName(body)) is not a response type")
        }
        let response = try ResponseFields.decode(type, &reader)
        try reader.finish()
        return (id, response)
    }

    static func requestBody(_ request: Request, id: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: WireProtocol.maximumRequestBodyLength)
        writeBody(request, id: id, into: &writer)
        return writer.bytes
    }

    private static func writeBody(_ request: Request, id: UInt32, into writer: inout ByteWriter) {
        writer.u8(request.type.rawValue)
        writer.u32(id)
        RequestFields.encode(request, into: &writer)
    }

    static func responseBody(_ response: Response, id: UInt32) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(response.type.rawValue)
        writer.u32(id)
        ResponseFields.encode(response, into: &writer)
        return writer.bytes
    }

    private static func frame(_ body: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(UInt32(truncatingIfNeeded: body.count))
        writer.bytes.append(contentsOf: body)
        return writer.bytes
    }

    private static func checkSize(_ count: Int, maximum: Int) throws(WireError) {
        guard count <= maximum else {
            throw WireError(
                code: .frameTooLarge,
                message: "a frame body of \(count) bytes exceeds the maximum of \(maximum)"
            )
        }
    }

    private static func readHeader(_ reader: inout ByteReader) throws(WireError) -> (MessageType?, UInt32) {
        let typeByte: UInt8
        let id: UInt32
        do {
            typeByte = try reader.u8("type")
            id = try reader.u32("id")
        } catch {
            throw .malformed("a frame body is at least \(WireProtocol.minimumBodyLength) bytes")
        }
        return (MessageType(rawValue: typeByte), id)
    }

    private static func typeName(_ body: some Collection<UInt8>) -> String {
        let byte = body.first ?? 0
        let digits = Array("0123456789ABCDEF")
        return "the message type 0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 0x0F)])"
    }
}
