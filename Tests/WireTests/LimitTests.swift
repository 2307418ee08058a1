import Testing
import Wire

// Bodies built by hand, field by field, so each test breaks exactly one rule.
private func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
private func str(_ bytes: [UInt8]) -> [UInt8] { u16(bytes.count) + bytes }
private func str(_ text: String) -> [UInt8] { str(Array(text.utf8)) }
private func requestBody(_ type: UInt8, _ fields: [UInt8]) -> [UInt8] { [type, 0, 0, 0, 42] + fields }

private func requestError(_ body: [UInt8]) -> WireError? {
    do {
        _ = try WireCodec.decodeRequest(body: body)
        return nil
    } catch {
        return error
    }
}

private func responseError(_ body: [UInt8]) -> WireError? {
    do {
        _ = try WireCodec.decodeResponse(body: body)
        return nil
    } catch {
        return error
    }
}

private func login(
    user: [UInt8] = Array("alice".utf8),
    password: [UInt8] = [0x70],
    kind: UInt8 = 1,
    code: String = "123456"
)
    -> [UInt8]
{
    requestBody(0x10, str(user) + str(password) + [kind] + str(code))
}

private func userAdd(role: UInt8 = 1, flags: UInt8 = 0, password: [UInt8] = [0x70]) -> [UInt8] {
    requestBody(0x20, str("bob") + str("") + [role, flags] + str(password))
}

private func enrollBegin(algorithm: UInt8 = 0, digits: UInt8 = 0, period: Int = 0) -> [UInt8] {
    requestBody(0x30, str("bob") + [algorithm, digits] + u16(period))
}

@Test func hostileRequestBodies_areMalformed() {
    let invalidUTF8: [[UInt8]] = [
        [0xC3, 0x28],  // a lead byte without its continuation
        [0xC0, 0xAF],  // an overlong '/'
        [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0x80],  // a lone continuation byte
    ]
    var bodies: [(String, [UInt8])] = [
        ("sanity: a valid login", []),
        ("user of 65 bytes", login(user: Array(repeating: 0x61, count: 65))),
        ("empty user", login(user: [])),
        ("password of 257 bytes", login(password: Array(repeating: 0x70, count: 257))),
        ("password with NUL", login(password: Array("pass\0word".utf8))),
        ("user with NUL", login(user: [0x61, 0x00])),
        ("code of 33 bytes", login(code: String(repeating: "1", count: 33))),
        ("code with codeKind none", login(kind: 0, code: "123456")),
        ("empty code with codeKind totp", login(kind: 1, code: "")),
        ("codeKind 3", login(kind: 3)),
        ("role 0", userAdd(role: 0)),
        ("role 3", userAdd(role: 3)),
        ("flags bit 1", userAdd(flags: 2)),
        ("flags bit 7 with bit 0", userAdd(flags: 0x81)),
        ("empty new password", userAdd(password: [])),
        ("new password of 257 bytes", userAdd(password: Array(repeating: 0x70, count: 257))),
        ("algorithm 4", enrollBegin(algorithm: 4)),
        ("digits 5", enrollBegin(digits: 5)),
        ("digits 9", enrollBegin(digits: 9)),
        ("period 3601", enrollBegin(period: 3601)),
        ("limit 0", requestBody(0x23, str("") + str("") + u16(0))),
        ("limit 501", requestBody(0x23, str("") + str("") + u16(501))),
        ("organization of 65 bytes", requestBody(0x23, str(String(repeating: "o", count: 65)) + str("") + u16(1))),
        ("empty enrollment code", requestBody(0x31, str("bob") + str(""))),
        ("Hello with a wrong magic", requestBody(0x01, Array("TFAX".utf8) + u16(1) + u16(1))),
        ("Hello with minVersion 0", requestBody(0x01, Array("TFAD".utf8) + u16(0) + u16(1))),
        ("Hello with minVersion above maxVersion", requestBody(0x01, Array("TFAD".utf8) + u16(2) + u16(1))),
        ("a 4-byte body", [0x22, 0, 0, 0]),
        ("an empty body", []),
    ]
    for bytes in invalidUTF8 {
        bodies.append(("user with invalid UTF-8 \(bytes)", login(user: [0x61] + bytes)))
        bodies.append(("password with invalid UTF-8 \(bytes)", login(password: bytes)))
    }
    #expect(requestError(login()) == nil)
    for (name, body) in bodies.dropFirst() {
        #expect(requestError(body)?.code == .malformedRequest, "\(name)")
    }
}

@Test func refusedPassword_isNeverQuotedInTheError() throws {
    let password = Array("Hunter2Secret\0".utf8)
    let error = try #require(requestError(login(password: password)))
    #expect(!error.message.contains("Hunter2"))
    #expect(!error.description.contains("Hunter2"))
    #expect(error.message.contains("password"))
}

@Test func validRequests_withATrailingByte_areMalformed() {
    for request in sampleRequests {
        #expect(
            requestError(body(WireCodec.encodeRequest(request, id: 7)) + [0])?.code == .malformedRequest,
            "\(request)"
        )
    }
}

@Test func validRequests_truncatedAtEveryLength_areMalformed() {
    for request in sampleRequests {
        let full = body(WireCodec.encodeRequest(request, id: 7))
        for length in 0..<full.count {
            #expect(requestError(Array(full.prefix(length)))?.code == .malformedRequest, "\(request) cut at \(length)")
        }
    }
}

@Test func unknownOrResponseTypes_sentAsRequests_areUnknownMessageType() {
    let known = Set(MessageType.allCases.filter(\.isRequest).map(\.rawValue))
    for type in 0...UInt8.max where !known.contains(type) {
        #expect(requestError(requestBody(type, str("bob")))?.code == .unknownMessageType, "type \(type)")
    }
}

@Test func requestTypes_sentAsResponses_areUnknownMessageType() {
    let known = Set(MessageType.allCases.filter { !$0.isRequest }.map(\.rawValue))
    for type in 0...UInt8.max where !known.contains(type) {
        #expect(responseError(requestBody(type, []))?.code == .unknownMessageType, "type \(type)")
    }
}

@Test func hostileResponseBodies_areMalformed() {
    let record =
        str("bob") + str("acme") + [1, 0, 0, 0] + u16(0) + [0, 0, 0, 0] + Array(repeating: 0, count: 16)
        + [0, 0, 0, 0, 0] + str("") + Array(repeating: 0, count: 8 * 3 + 1 + 8 + 4)
    // The same record with one locked origin, and that origin's fields (kind, uid, host, failures, lockedUntil).
    let lockedRecord = Array(record.dropLast(4)) + [0, 0, 0, 1]
    func originLock(kind: UInt8, uid: UInt8 = 0, host: String = "", lockedUntil: UInt8 = 1) -> [UInt8] {
        [kind, 0, 0, 0, uid] + str(host) + [0, 0, 0, 6] + Array(repeating: 0, count: 7) + [lockedUntil]
    }
    let bodies: [(String, [UInt8])] = [
        ("retryAfter with outcome ok", [0x90, 0, 0, 0, 1, 0, 0, 0, 0, 1] + str("")),
        ("enroll without a URI", [0x90, 0, 0, 0, 1, 2, 0, 0, 0, 0] + str("")),
        ("ok with a URI", [0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0] + str("otpauth://")),
        ("outcome 5", [0x90, 0, 0, 0, 1, 5, 0, 0, 0, 0] + str("")),
        ("message of 1025 bytes", [0x80, 0, 0, 0, 1] + u16(9) + str(String(repeating: "m", count: 1025))),
        (
            "count above a page",
            [0x92, 0, 0, 0, 1] + u16(WireProtocol.maximumPageSize + 1)
                + Array(repeating: record, count: WireProtocol.maximumPageSize + 1).flatMap { $0 } + str("")
        ),
        ("actor kind 4", [0x91, 0, 0, 0, 1] + record.dropLast(40) + [4, 0, 0, 0, 0] + str("") + Array(repeating: 0, count: 37) + [0]),
        ("operator actor with a name", [0x91, 0, 0, 0, 1] + record.dropLast(40) + [1, 0, 0, 0, 0] + str("x") + Array(repeating: 0, count: 37) + [0]),
        ("user info without its count of locked origins", [0x91, 0, 0, 0, 1] + record),
        ("more locked origins listed than locked", [0x91, 0, 0, 0, 1] + record + [1] + originLock(kind: 1)),
        ("fewer locked origins listed than locked", [0x91, 0, 0, 0, 1] + lockedRecord + [0]),
        ("locked origin kind 4", [0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 4)),
        ("locked uid with a host", [0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 1, uid: 5, host: "h")),
        ("locked host without one", [0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 2)),
        ("locked host with a uid", [0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 2, uid: 5, host: "h")),
        ("locked local with a uid", [0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 3, uid: 5)),
        ("locked origin until 0", [0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 1, lockedUntil: 0)),
        ("recovery codes count 0", [0x94, 0, 0, 0, 1, 0]),
        ("recovery codes count 17", [0x94, 0, 0, 0, 1, 17] + Array(repeating: str("c"), count: 17).flatMap { $0 }),
        ("organization flags 2", [0x96, 0, 0, 0, 1] + str("acme") + [2] + Array(repeating: 0, count: 20)),
        ("audit action empty", [0x98, 0, 0, 0, 1] + u16(1) + Array(repeating: 0, count: 16) + [0, 0, 0, 0, 0] + str("") + str("") + str("") + str("") + str("ok") + str("") + Array(repeating: 0, count: 8)),
        ("count above the records", [0x92, 0, 0, 0, 1] + u16(2) + record + str("")),
        ("empty URI in EnrollmentStarted", [0x93, 0, 0, 0, 1] + str("") + Array(repeating: 0, count: 8)),
        ("record with an empty organization", [0x91, 0, 0, 0, 1] + str("bob") + str("") + record.dropFirst(11) + [0]),
        ("record with twoFactor 4", [0x91, 0, 0, 0, 1] + str("bob") + str("acme") + [1, 4] + record.dropFirst(13) + [0]),
    ]
    #expect(responseError([0x91, 0, 0, 0, 1] + record + [0]) == nil)
    #expect(responseError([0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 1, uid: 5)) == nil)
    #expect(responseError([0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 2, host: "h")) == nil)
    #expect(responseError([0x91, 0, 0, 0, 1] + lockedRecord + [1] + originLock(kind: 3)) == nil)
    #expect(responseError([0x92, 0, 0, 0, 1] + u16(1) + record + str("")) == nil)
    for (name, body) in bodies {
        #expect(responseError(body)?.code == .malformedRequest, "\(name)")
    }
}

@Test func validResponses_truncatedOrExtended_areMalformed() {
    for response in sampleResponses.prefix(12) {
        let full = body(WireCodec.encodeResponse(response, id: 7))
        #expect(responseError(full + [0])?.code == .malformedRequest, "\(response)")
        for length in 0..<min(full.count, 300) {
            #expect(
                responseError(Array(full.prefix(length)))?.code == .malformedRequest,
                "\(response) cut at \(length)"
            )
        }
    }
}

@Test func lengthPrefix_belowTheMinimum_isMalformed() {
    for length: UInt8 in 0...4 {
        #expect(throws: WireError(code: .malformedRequest, message: "a frame body is at least 5 bytes, not \(length)"))
        {
            try WireCodec.bodyLength(ofHeader: [0, 0, 0, length], maximum: WireProtocol.maximumRequestBodyLength)
        }
    }
    #expect(throws: WireError.self) { try WireCodec.bodyLength(ofHeader: [0, 0, 5], maximum: 1024) }
}

@Test func lengthPrefix_aboveTheMaximum_isFrameTooLarge() throws {
    let request = WireProtocol.maximumRequestBodyLength
    let response = WireProtocol.maximumResponseBodyLength
    #expect(try WireCodec.bodyLength(ofHeader: [0, 0, 0, 5], maximum: request) == 5)
    #expect(try WireCodec.bodyLength(ofHeader: [0, 0, 0x04, 0x00], maximum: request) == 1024)
    #expect(try WireCodec.bodyLength(ofHeader: [0, 1, 0, 0], maximum: response) == 65536)
    let cases: [([UInt8], Int)] = [
        ([0, 0, 0x04, 0x01], request), ([0, 1, 0, 1], response), ([0xFF, 0xFF, 0xFF, 0xFF], response),
    ]
    for (header, maximum) in cases {
        do {
            _ = try WireCodec.bodyLength(ofHeader: header, maximum: maximum)
            Issue.record("\(header) was accepted")
        } catch {
            #expect(error.code == .frameTooLarge)
        }
    }
}

@Test func validate_namesTheFieldThatBreaksALimit() {
    let cases: [(Request, String)] = [
        (.login(user: String(repeating: "a", count: 65), password: [], codeKind: .none, code: ""), "'user'"),
        (.userAdd(user: "bob", organization: "", role: .agent, requireTwoFactor: false, password: []), "'password'"),
        (.userSetPassword(user: "bob", password: Array(repeating: 0x61, count: 70_000)), "'password'"),
        (.userList(organization: "", after: "", limit: 0), "'limit'"),
        (.enrollBegin(user: "bob", algorithm: .sha1, digits: 10, period: 0), "'digits'"),
        (.login(user: "bob", password: [], codeKind: .none, code: "1"), "'code'"),
    ]
    for (request, field) in cases {
        do {
            try WireCodec.validate(request)
            Issue.record("\(request) was accepted")
        } catch {
            #expect(error.code == .malformedRequest)
            #expect(error.message.contains(field), "\(error.message)")
        }
    }
}

@Test func requestID_isReadFromBodiesOfFiveBytesOrMore() {
    #expect(WireCodec.requestID(ofBody: [0xEE, 0xDE, 0xAD, 0xBE, 0xEF, 9]) == 0xDEAD_BEEF)
    #expect(WireCodec.requestID(ofBody: [0xEE, 0xDE, 0xAD, 0xBE]) == nil)
}
