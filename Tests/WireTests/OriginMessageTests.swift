import Testing
import Wire

// LoginFrom, CodeCheck and EnrollScreen: their limits, checked on bodies built by hand.
private func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
private func str(_ text: String) -> [UInt8] { u16(text.utf8.count) + Array(text.utf8) }
private func body(_ type: UInt8, _ fields: [UInt8]) -> [UInt8] { [type, 0, 0, 0, 9] + fields }

private func requestCode(_ body: [UInt8]) -> ErrorCode? {
    do {
        _ = try WireCodec.decodeRequest(body: body)
        return nil
    } catch {
        return error.code
    }
}

private func loginFrom(kind: UInt8 = 1, code: String = "123456", service: String = "sshd", host: String = "") -> [UInt8]
{
    body(0x11, str("alice") + str("pw") + [kind] + str(code) + str(service) + str(host))
}

private func codeCheck(kind: UInt8 = 1, code: String = "123456", service: String = "", host: String = "") -> [UInt8] {
    body(0x12, str("alice") + [kind] + str(code) + str(service) + str(host))
}

@Test func loginFrom_andCodeCheck_decodeTheirOrigin() throws {
    let decoded = try WireCodec.decodeRequest(body: loginFrom(service: "sudo", host: "2001:db8::1"))
    #expect(
        decoded.request
            == .loginFrom(
                user: "alice",
                password: Array("pw".utf8),
                codeKind: .totp,
                code: "123456",
                origin: LoginOrigin(service: "sudo", remoteHost: "2001:db8::1")
            )
    )
    let check = try WireCodec.decodeRequest(body: codeCheck(kind: 0, code: ""))
    #expect(check.request == .codeCheck(user: "alice", codeKind: .none, code: "", origin: LoginOrigin()))
}

@Test func origin_fieldsAboveTheirLimits_areMalformed() {
    #expect(requestCode(loginFrom(service: String(repeating: "s", count: 64))) == nil)
    #expect(requestCode(loginFrom(service: String(repeating: "s", count: 65))) == .malformedRequest)
    #expect(requestCode(loginFrom(host: String(repeating: "h", count: 255))) == nil)
    #expect(requestCode(loginFrom(host: String(repeating: "h", count: 256))) == .malformedRequest)
    #expect(requestCode(codeCheck(service: String(repeating: "s", count: 65))) == .malformedRequest)
    #expect(requestCode(codeCheck(host: "bad\0host")) == .malformedRequest)
}

@Test func codeKindAndCode_mustAgree_inBothNewRequests() {
    #expect(requestCode(loginFrom(kind: 0, code: "123456")) == .malformedRequest)
    #expect(requestCode(loginFrom(kind: 1, code: "")) == .malformedRequest)
    #expect(requestCode(codeCheck(kind: 0, code: "1")) == .malformedRequest)
    #expect(requestCode(codeCheck(kind: 1, code: "")) == .malformedRequest)
    #expect(requestCode(codeCheck(kind: 3, code: "1")) == .malformedRequest)
    // An origin missing at the end is a truncated body, not an old Login.
    #expect(requestCode(body(0x11, str("alice") + str("pw") + [0] + str(""))) == .malformedRequest)
}

@Test func enrollScreen_needsAURI_andRoundTrips() throws {
    let screen = Response.enrollScreen(otpauthURI: "otpauth://totp/x?secret=AB", screen: "\u{2580}\u{2584}\n")
    let encoded = WireCodec.encodeResponse(screen, id: 4)
    #expect(try WireCodec.decodeResponse(body: Array(encoded.dropFirst(4))).response == screen)
    let noURI: [UInt8] = [0xA0, 0, 0, 0, 4] + str("") + str("")
    #expect(throws: WireError.self) { try WireCodec.decodeResponse(body: noURI) }
}
