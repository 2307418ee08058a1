import Testing
import Wire

let longest64 = String(repeating: "u", count: 64)

/// Every request type, with values at the edges of their limits.
let sampleRequests: [Request] = [
    .hello(minVersion: 1, maxVersion: 1),
    .hello(minVersion: 1, maxVersion: 65535),
    .login(user: "alice", password: [], codeKind: .none, code: ""),
    .login(user: longest64, password: Array(repeating: 0x41, count: 256), codeKind: .totp, code: "12345678"),
    .login(
        user: "ünïcödé",
        password: Array("pässwörd €".utf8),
        codeKind: .recovery,
        code: String(repeating: "r", count: 32)
    ),
    .userAdd(user: "carol", organization: "", role: .admin, requireTwoFactor: false, password: [0x78]),
    .userAdd(
        user: longest64,
        organization: longest64,
        role: .agent,
        requireTwoFactor: true,
        password: Array(repeating: 0x7A, count: 256)
    ),
    .userSetPassword(user: "carol", password: Array("new".utf8)),
    .userShow(user: "carol"),
    .userList(organization: "", after: "", limit: 1),
    .userList(organization: "acme", after: longest64, limit: UInt16(WireProtocol.maximumPageSize)),
    .userRemove(user: "carol"),
    .enrollBegin(user: "carol", algorithm: .default, digits: 0, period: 0),
    .enrollBegin(user: "carol", algorithm: .sha512, digits: 8, period: 3600),
    .enrollBegin(user: "carol", algorithm: .sha256, digits: 6, period: 1),
    .enrollConfirm(user: "carol", code: "000000"),
    .twoFactorDisable(user: "carol"),
    .organizationAdd(organization: longest64, requireTwoFactor: true),
    .organizationSet(organization: "a", requireTwoFactor: false),
    .organizationShow(organization: "acme"),
    .organizationList(after: "", limit: 1),
    .organizationList(after: longest64, limit: UInt16(WireProtocol.maximumOrganizationPageSize)),
    .organizationRemove(organization: "acme"),
    .twoFactorForce(user: "carol"),
    .twoFactorReset(user: longest64),
    .recoveryCodesIssue(user: "carol"),
    .unlock(user: "carol"),
    .backupBegin,
    .backupRead(offset: 1 << 40),
    .keyRotate,
    .auditQuery(user: "", organization: "", since: 0, before: 0, limit: 1),
    .auditQuery(
        user: longest64,
        organization: longest64,
        since: .max,
        before: .max,
        limit: UInt16(WireProtocol.maximumAuditPageSize)
    ),
    .loginFrom(
        user: "alice",
        password: Array("pw".utf8),
        codeKind: .totp,
        code: "123456",
        origin: LoginOrigin(service: "sshd", remoteHost: "192.0.2.7")
    ),
    .codeCheck(user: "alice", codeKind: .none, code: "", origin: LoginOrigin(service: "sudo")),
    .loginFrom(
        user: "alice",
        password: Array("pw".utf8),
        codeKind: .none,
        code: "",
        origin: LoginOrigin(service: "su", invokerUID: 1)
    ),
    .codeCheck(
        user: "alice",
        codeKind: .recovery,
        code: "abcd-efgh",
        origin: LoginOrigin(service: "sudo", remoteHost: "192.0.2.7", invokerUID: 0xFFFF_FFFE)
    ),
    .graceRevoke(user: "bob"),
    .accessShow(user: "bob"),
    .organizationAccessSet(organization: "acme", gracePeriod: .unchanged, trustedNetworks: nil),
    .organizationAccessSet(organization: "acme", gracePeriod: .daemonDefault, trustedNetworks: []),
    .organizationAccessSet(
        organization: "acme",
        gracePeriod: .seconds(86_400),
        trustedNetworks: Array(repeating: "2001:db8:ffff:ffff:ffff:ffff:ffff:0/112", count: 16)
    ),
    .organizationAccessSet(organization: "acme", gracePeriod: .unchanged, trustedNetworks: nil, agentNames: []),
    .organizationAccessSet(
        organization: "acme",
        gracePeriod: .unchanged,
        trustedNetworks: ["10.0.0.0/8"],
        agentNames: Array(repeating: String(repeating: "*", count: 32), count: 15) + [String(repeating: "a", count: 64)]
    ),
    .organizationAccessShow(organization: "acme"),
    .exemptAdd(user: "bob", service: "cron", until: .max, fromUID: nil),
    .exemptAdd(user: "bob", service: String(repeating: "s", count: 64), until: 1, fromUID: .max),
    .exemptRemove(user: "bob", service: "cron"),
    .exemptList(after: "", limit: 1),
    .exemptList(after: String(repeating: "a", count: 64), limit: UInt16(WireProtocol.maximumExemptionPageSize)),
    .authenticatorAddBegin(user: "alice", label: "phone", algorithm: .default, digits: 0, period: 0),
    .authenticatorAddBegin(
        user: longest64,
        label: String(repeating: "l", count: 32),
        algorithm: .sha512,
        digits: 8,
        period: 3600
    ),
    .authenticatorAddConfirm(user: "alice", label: "p", code: "123456"),
    .authenticatorList(user: "alice"),
    .authenticatorRemove(user: "alice", label: "phone"),
    .authenticatorResync(user: "alice", label: "phone", firstCode: "123456", secondCode: "654321"),
]

/// Every response type, with values at the edges of their limits.
let sampleResponses: [Response] = [
    .error(code: .busy, message: ""),
    .error(code: ErrorCode(rawValue: 999), message: String(repeating: "m", count: 1024)),
    .helloReply(version: 1),
    .done,
    .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: []),
    .loginResult(outcome: .denied, retryAfter: 0, otpauthURI: []),
    .loginResult(outcome: .locked, retryAfter: .max, otpauthURI: []),
    .loginResult(outcome: .enroll, retryAfter: 0, otpauthURI: Array(repeating: UInt8(ascii: "o"), count: 1024)),
    .userInfo(sampleAccount, originLocks: []),
    .userInfo(lockedSampleAccount, originLocks: [sampleOriginLock]),
    .userInfo(
        AccountInfo(
            user: longest64,
            organization: longest64,
            role: .admin,
            twoFactor: .onEnforced,
            algorithm: .sha512,
            digits: 8,
            period: 3600,
            failureCount: .max,
            createdAt: .max,
            updatedAt: 0,
            stateSetBy: .operator(uid: .max),
            stateSetAt: .max,
            enrolledAt: .max,
            lastLoginAt: .max,
            recoveryCodes: .max,
            lockedUntil: .max,
            lockedOrigins: .max
        ),
        originLocks: Array(
            repeating: OriginLockInfo(
                origin: .host(String(repeating: "h", count: 255)),
                failures: .max,
                lockedUntil: .max
            ),
            count: WireProtocol.maximumOriginLocks
        )
    ),
    .userInfo(
        AccountInfo(
            user: "d",
            organization: "default",
            role: .agent,
            twoFactor: .onSelf,
            algorithm: .sha1,
            digits: 6,
            period: 30,
            failureCount: 0,
            createdAt: 1,
            updatedAt: 1,
            stateSetBy: .daemon,
            lockedOrigins: 2
        ),
        originLocks: [
            OriginLockInfo(origin: .local, failures: 5, lockedUntil: 1),
            OriginLockInfo(origin: .uid(0), failures: 0, lockedUntil: 2),
        ]
    ),
    .userList([], next: ""),
    .userList(Array(repeating: sampleAccount, count: WireProtocol.maximumPageSize), next: longest64),
    .enrollmentStarted(otpauthURI: Array("o".utf8), expiresAt: .max),
    .recoveryCodes(["K7QF-2M3D-XR4T-6BWC"]),
    .recoveryCodes(Array(repeating: String(repeating: "c", count: 32), count: WireProtocol.maximumRecoveryCodes)),
    .recoveryLogin(remaining: 0),
    .organizationInfo(
        OrganizationInfo(name: longest64, requiresTwoFactor: true, members: .max, createdAt: .max, updatedAt: 0)
    ),
    .organizationList([], next: ""),
    .auditList([], next: 0),
    .auditList(
        Array(
            repeating: AuditEntry(
                sequence: .max,
                time: .max,
                actor: .operator(uid: .max),
                target: longest64,
                organization: longest64,
                action: String(repeating: "a", count: 32),
                outcome: String(repeating: "o", count: 32),
                detail: String(repeating: "d", count: 128)
            ),
            count: WireProtocol.maximumAuditPageSize
        ),
        next: .max
    ),
    .enrollScreen(otpauthURI: Array(exampleURI.utf8), screen: Array("a QR code drawn in text".utf8)),
    .backupStarted(size: 1 << 33),
    .backupChunk(offset: 65521, bytes: Array(repeating: 0xA5, count: WireProtocol.maximumBackupChunkLength)),
    .backupChunk(offset: 0, bytes: [0, 0xFF, 0, 0x80]),
    .keyRotated(accounts: 12, keyFile: "/etc/twofactord/secrets.key"),
    .accessInfo(graces: [], exemptions: []),
    .accessInfo(
        graces: [
            GraceInfo(kind: .remoteHost, key: "192.0.2.7", grantedAt: 1, expiresAt: 2),
            GraceInfo(kind: .session, key: "4294967294", grantedAt: 1, expiresAt: .max),
        ],
        exemptions: [ExemptionInfo(user: "bob", service: "cron", fromUID: 0, until: 3, grantedAt: 1)]
    ),
    .organizationAccess(OrganizationAccessInfo(name: "acme", gracePeriod: 0, trustedNetworks: ["10.0.0.0/8"])),
    .organizationAccess(OrganizationAccessInfo(name: "acme", gracePeriod: nil, trustedNetworks: [])),
    .organizationAccess(
        OrganizationAccessInfo(name: "acme", gracePeriod: nil, trustedNetworks: [], agentNames: ["acme-*", "ann"])
    ),
    .exemptionList([], next: ""),
    .exemptionList(
        [ExemptionInfo(user: "bob", service: "sshd", fromUID: nil, until: 3, grantedAt: 1)],
        next: "bob"
    ),
    .authenticatorList([]),
    .authenticatorList([
        AuthenticatorInfo(
            label: "default",
            algorithm: .sha1,
            digits: 6,
            period: 30,
            enrolledAt: 1,
            lastUsedAt: 30,
            drift: -2
        ),
        AuthenticatorInfo(
            label: String(repeating: "l", count: 32),
            algorithm: .sha512,
            digits: 8,
            period: 3600,
            enrolledAt: .max,
            lastUsedAt: .max,
            drift: .min
        ),
    ]),
]

@Test func requests_roundTripThroughTheCodec() throws {
    for (index, request) in sampleRequests.enumerated() {
        let id = UInt32(index) &* 0x0101_0101
        let encoded = WireCodec.encodeRequest(request, id: id)
        #expect(
            try WireCodec.bodyLength(ofHeader: encoded.prefix(4), maximum: WireProtocol.maximumRequestBodyLength)
                == encoded.count - 4
        )
        let decoded = try WireCodec.decodeRequest(body: body(encoded))
        #expect(decoded.id == id)
        #expect(decoded.request == request)
        #expect(throws: Never.self) { try WireCodec.validate(request) }
    }
}

@Test func responses_roundTripThroughTheCodec() throws {
    for (index, response) in sampleResponses.enumerated() {
        let id = UInt32.max - UInt32(index)
        let encoded = WireCodec.encodeResponse(response, id: id)
        #expect(
            try WireCodec.bodyLength(ofHeader: encoded.prefix(4), maximum: WireProtocol.maximumResponseBodyLength)
                == encoded.count - 4
        )
        let decoded = try WireCodec.decodeResponse(body: body(encoded))
        #expect(decoded.id == id)
        #expect(decoded.response == response)
        #expect(throws: Never.self) { try WireCodec.validate(response) }
    }
}

@Test func accountInfo_ofMaximumSize_takesTheDocumentedLength() {
    let largest = AccountInfo(
        user: longest64,
        organization: longest64,
        role: .admin,
        twoFactor: .onEnforced,
        algorithm: .sha512,
        digits: 8,
        period: 3600,
        failureCount: .max,
        createdAt: .max,
        updatedAt: .max,
        stateSetBy: .account(longest64),
        stateSetAt: .max,
        enrolledAt: .max,
        lastLoginAt: .max,
        recoveryCodes: .max,
        lockedUntil: .max
    )
    // UserInfo frame = 4 length bytes + 5 header bytes + one record + a count of no locked origins.
    #expect(
        WireCodec.encodeResponse(.userInfo(largest, originLocks: []), id: 0).count - 10
            == WireProtocol.maximumAccountInfoLength
    )
    #expect(WireProtocol.maximumAccountInfoLength == 266)
    #expect(WireProtocol.maximumPageSize == 246)
}

@Test func userList_ofMoreThanOneFrame_failsValidationAsTooLarge() {
    let largest = AccountInfo(
        user: longest64,
        organization: longest64,
        role: .admin,
        twoFactor: .off,
        algorithm: .default,
        digits: 0,
        period: 0,
        failureCount: 0,
        createdAt: 0,
        updatedAt: 0,
        stateSetBy: .account(longest64)
    )
    let page = WireProtocol.maximumPageSize
    #expect(throws: Never.self) {
        try WireCodec.validate(.userList(Array(repeating: largest, count: page), next: longest64))
    }
    // One record more than a page is refused by count before size; the frame limit is what the page derives from.
    let body = WireCodec.encodeResponse(.userList(Array(repeating: largest, count: page + 1), next: longest64), id: 0)
    #expect(body.count - 4 > WireProtocol.maximumResponseBodyLength)
    #expect(throws: WireError.self) {
        try WireCodec.validate(.userList(Array(repeating: largest, count: page + 1), next: longest64))
    }
}

@Test func messageTypes_matchTheirEncodedFirstByte() {
    for request in sampleRequests {
        #expect(WireCodec.encodeRequest(request, id: 0)[4] == request.type.rawValue)
        #expect(request.type.isRequest)
    }
    for response in sampleResponses {
        #expect(WireCodec.encodeResponse(response, id: 0)[4] == response.type.rawValue)
        #expect(!response.type.isRequest)
    }
}

@Test func negotiatedVersion_picksOneOnlyWhenTheRangeContainsIt() {
    #expect(WireProtocol.negotiatedVersion(minVersion: 1, maxVersion: 1) == 1)
    #expect(WireProtocol.negotiatedVersion(minVersion: 1, maxVersion: 7) == 1)
    #expect(WireProtocol.negotiatedVersion(minVersion: 2, maxVersion: 7) == nil)
}

@Test func errorCode_namesAndClosingMatchTheDocument() {
    let names = [
        "malformedRequest", "unsupportedVersion", "unknownMessageType", "frameTooLarge", "helloRequired",
        "notPermitted", "noSuchAccount", "accountExists", "invalidArgument", "wrongCode", "noEnrollmentInProgress",
        "internalError", "storageFailure", "busy", "noSuchOrganization", "organizationExists", "organizationNotEmpty",
    ]
    for (index, name) in names.enumerated() {
        let code = ErrorCode(rawValue: UInt16(index + 1))
        #expect(code.description == name)
        #expect(code.isKnown)
        #expect(code.closesConnection == (index < 5))
    }
    #expect(ErrorCode.organizationNotEmpty.rawValue == 17)
    #expect(!ErrorCode(rawValue: 999).isKnown)
    #expect(!ErrorCode(rawValue: 0).isKnown)
    #expect(ErrorCode(rawValue: 999).description == "unknown(999)")
}
