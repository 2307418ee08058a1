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
    let screen = Response.enrollScreen(
        otpauthURI: Array("otpauth://totp/x?secret=AB".utf8),
        screen: Array("\u{2580}\u{2584}\n".utf8)
    )
    let encoded = WireCodec.encodeResponse(screen, id: 4)
    #expect(try WireCodec.decodeResponse(body: Array(encoded.dropFirst(4))).response == screen)
    let noURI: [UInt8] = [0xA0, 0, 0, 0, 4] + str("") + str("")
    #expect(throws: WireError.self) { try WireCodec.decodeResponse(body: noURI) }
}

// LoginFromInvoker (0x13) and CodeCheckFromInvoker (0x14): LoginFrom and CodeCheck with one more u32.
private func u32(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(value >> $0 & 0xFF) } }

private func loginFromInvoker(_ invoker: [UInt8]) -> [UInt8] {
    body(0x13, str("alice") + str("pw") + [0] + str("") + str("su") + str("") + invoker)
}

private func codeCheckFromInvoker(_ invoker: [UInt8]) -> [UInt8] {
    body(0x14, str("alice") + [1] + str("123456") + str("sudo") + str("192.0.2.7") + invoker)
}

@Test func invokerTypes_encodeTheInvokerAfterTheOrigin_byteForByte() {
    let login = Request.loginFrom(
        user: "alice",
        password: Array("pw".utf8),
        codeKind: .none,
        code: "",
        origin: LoginOrigin(service: "su", invokerUID: 1000)
    )
    // Written out from docs/protocol.md: 0x13, id 9, then LoginFrom's fields and invokerUID 1000.
    let loginBytes: [UInt8] =
        [0, 0, 0, 0x1D, 0x13, 0, 0, 0, 9, 0, 5] + Array("alice".utf8) + [0, 2] + Array("pw".utf8)
        + [0, 0, 0, 0, 2] + Array("su".utf8) + [0, 0, 0, 0, 0x03, 0xE8]
    #expect(WireCodec.encodeRequest(login, id: 9) == loginBytes)
    #expect(login.type == .loginFromInvoker)

    let check = Request.codeCheck(
        user: "alice",
        codeKind: .totp,
        code: "123456",
        origin: LoginOrigin(service: "sudo", remoteHost: "192.0.2.7", invokerUID: 0xFFFF_FFFE)
    )
    let checkBytes: [UInt8] =
        [0, 0, 0, 0x2A, 0x14, 0, 0, 0, 9, 0, 5] + Array("alice".utf8) + [1, 0, 6] + Array("123456".utf8)
        + [0, 4] + Array("sudo".utf8) + [0, 9] + Array("192.0.2.7".utf8) + [0xFF, 0xFF, 0xFF, 0xFE]
    #expect(WireCodec.encodeRequest(check, id: 9) == checkBytes)
    #expect(check.type == .codeCheckFromInvoker)
}

@Test func withoutAnInvoker_loginFromAndCodeCheck_keepTheirTypesAndBytes() {
    let login = Request.loginFrom(user: "a", password: [], codeKind: .none, code: "", origin: LoginOrigin())
    #expect(
        WireCodec.encodeRequest(login, id: 1) == [
            0, 0, 0, 0x11, 0x11, 0, 0, 0, 1, 0, 1, 0x61, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]
    )
    let check = Request.codeCheck(user: "a", codeKind: .none, code: "", origin: LoginOrigin())
    #expect(
        WireCodec.encodeRequest(check, id: 1) == [0, 0, 0, 0x0F, 0x12, 0, 0, 0, 1, 0, 1, 0x61, 0, 0, 0, 0, 0, 0, 0]
    )
}

@Test func invokerTypes_decodeTheInvoker() throws {
    let login = try WireCodec.decodeRequest(body: loginFromInvoker(u32(4242))).request
    #expect(
        login
            == .loginFrom(
                user: "alice",
                password: Array("pw".utf8),
                codeKind: .none,
                code: "",
                origin: LoginOrigin(service: "su", invokerUID: 4242)
            )
    )
    let check = try WireCodec.decodeRequest(body: codeCheckFromInvoker(u32(1))).request
    #expect(
        check
            == .codeCheck(
                user: "alice",
                codeKind: .totp,
                code: "123456",
                origin: LoginOrigin(service: "sudo", remoteHost: "192.0.2.7", invokerUID: 1)
            )
    )
}

@Test func invokerUID_zeroOrAllOnes_isMalformed() {
    for make in [loginFromInvoker, codeCheckFromInvoker] {
        #expect(requestCode(make(u32(0))) == .malformedRequest)
        #expect(requestCode(make(u32(0xFFFF_FFFF))) == .malformedRequest)
        #expect(requestCode(make(u32(0xFFFF_FFFE))) == nil)
        #expect(requestCode(make(u32(1))) == nil)
    }
    #expect(LoginOrigin.invoker(realUID: 0) == nil)
    #expect(LoginOrigin.invoker(realUID: 0xFFFF_FFFF) == nil)
    #expect(LoginOrigin.invoker(realUID: 65534) == 65534)
}

@Test func invokerTypes_truncatedOrWithExtraBytes_areMalformed() {
    for make in [loginFromInvoker, codeCheckFromInvoker] {
        // No invoker at all: a LoginFrom or CodeCheck body under the new type.
        #expect(requestCode(make([])) == .malformedRequest)
        for cut in 1...3 {
            #expect(requestCode(make(Array(u32(4242).prefix(4 - cut)))) == .malformedRequest)
        }
        #expect(requestCode(make(u32(4242) + [0])) == .malformedRequest)
        #expect(requestCode(make(u32(4242) + u32(4242))) == .malformedRequest)
    }
    // An invoker after the old types' last field is a trailing byte, not a new field.
    #expect(requestCode(loginFrom() + u32(4242)) == .malformedRequest)
    #expect(requestCode(codeCheck() + u32(4242)) == .malformedRequest)
}
