import Testing
import Wire

/// The frames of docs/protocol.md "Examples", in the same order. The hex was computed with
/// Python's struct module, independently of the Swift codec (see "How the examples were made").
enum Example {
    case request(UInt32, Request)
    case response(UInt32, Response)
}

let documentedExamples: [(hex: String, message: Example)] = [
    ("0000000d 01 00000001 54464144 0001 0001", .request(1, .hello(minVersion: 1, maxVersion: 1))),
    ("00000007 81 00000001 0001", .response(1, .helloReply(version: 1))),
    (
        "0000001e 10 00000002 0005 616c696365 0007 68756e74657232 01 0006 313233343536",
        .request(2, .login(user: "alice", password: Array("hunter2".utf8), codeKind: .totp, code: "123456"))
    ),
    (
        "00000018 10 00000002 0005 616c696365 0007 68756e74657232 00 0000",
        .request(2, .login(user: "alice", password: Array("hunter2".utf8), codeKind: .none, code: ""))
    ),
    ("0000000c 90 00000002 00 00000000 0000", .response(2, .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []))),
    (
        "0000000c 90 00000002 04 0000012c 0000",
        .response(2, .loginResult(outcome: .locked, retryAfter: 300, otpauthURI: []))
    ),
    (
        "00000055 90 00000002 02 00000000 0049"
            + " 6f7470617574683a2f2f746f74702f74776f666163746f72643a616c6963653f7365637265743d4a4253575933"
            + " 44504548504b33505850266973737565723d74776f666163746f7264",
        .response(2, .loginResult(outcome: .enroll, retryAfter: 0, otpauthURI: Array(exampleURI.utf8)))
    ),
    (
        "0000001a 20 00000003 0003 626f62 0004 61636d65 01 01 0006 733363726574",
        .request(
            3,
            .userAdd(
                user: "bob",
                organization: "acme",
                role: .agent,
                requireTwoFactor: true,
                password: Array("s3cret".utf8)
            )
        )
    ),
    ("00000005 82 00000003", .response(3, .done)),
    (
        "0000000f 21 00000004 0003 626f62 0003 6e3377",
        .request(4, .userSetPassword(user: "bob", password: Array("n3w".utf8)))
    ),
    ("0000000a 22 00000005 0003 626f62", .request(5, .userShow(user: "bob"))),
    (
        "0000006d 91 00000005 0003626f62000461636d6501010000000000000002000000006553f100000000006553f22c02000000000003616d79000000006553f22c00000000000000000000000000000000000000000000000000 00000001 01 01 0000fffe 0000 00000006 000000006553f24a",
        .response(5, .userInfo(lockedSampleAccount, originLocks: [sampleOriginLock]))
    ),
    ("0000000b 23 00000006 0000 0000 0064", .request(6, .userList(organization: "", after: "", limit: 100))),
    (
        "00000064 92 00000006 00010005616c696365000764656661756c7402020106001e00000000000000006553f100000000006553f10002000000000005616c696365000000006553f100000000006553f100000000006553f1640a0000000000000000 00000000 0000",
        .response(
            6,
            .userList(
                [
                    AccountInfo(
                        user: "alice",
                        organization: "default",
                        role: .admin,
                        twoFactor: .onSelf,
                        algorithm: .sha1,
                        digits: 6,
                        period: 30,
                        failureCount: 0,
                        createdAt: 1_700_000_000,
                        updatedAt: 1_700_000_000,
                        stateSetBy: .account("alice"),
                        stateSetAt: 1_700_000_000,
                        enrolledAt: 1_700_000_000,
                        lastLoginAt: 1_700_000_100,
                        recoveryCodes: 10
                    )
                ],
                next: ""
            )
        )
    ),
    ("0000000a 24 00000007 0003 626f62", .request(7, .userRemove(user: "bob"))),
    (
        "0000001f 80 00000007 0007 0016 6e6f206163636f756e74206e616d65642027626f6227",
        .response(7, .error(code: .noSuchAccount, message: "no account named 'bob'"))
    ),
    (
        "00000010 30 00000008 0005 616c696365 00 00 0000",
        .request(8, .enrollBegin(user: "alice", algorithm: .default, digits: 0, period: 0))
    ),
    (
        "00000058 93 00000008 0049"
            + " 6f7470617574683a2f2f746f74702f74776f666163746f72643a616c6963653f7365637265743d4a4253575933"
            + " 44504548504b33505850266973737565723d74776f666163746f7264 000000006553f358",
        .response(8, .enrollmentStarted(otpauthURI: Array(exampleURI.utf8), expiresAt: 1_700_000_600))
    ),
    (
        "00000014 31 00000009 0005 616c696365 0006 313233343536",
        .request(9, .enrollConfirm(user: "alice", code: "123456"))
    ),
    ("0000000c 32 0000000a 0005 616c696365", .request(10, .twoFactorDisable(user: "alice"))),
    (
        "0000000c 25 0000000b 000461636d6501",
        .request(11, .organizationAdd(organization: "acme", requireTwoFactor: true))
    ),
    (
        "0000000c 26 0000000c 000461636d6500",
        .request(12, .organizationSet(organization: "acme", requireTwoFactor: false))
    ),
    ("0000000b 27 0000000d 000461636d65", .request(13, .organizationShow(organization: "acme"))),
    (
        "00000020 96 0000000d 000461636d650100000003000000006553f100000000006553f22c",
        .response(
            13,
            .organizationInfo(
                OrganizationInfo(
                    name: "acme",
                    requiresTwoFactor: true,
                    members: 3,
                    createdAt: 1_700_000_000,
                    updatedAt: 1_700_000_300
                )
            )
        )
    ),
    ("00000009 28 0000000e 00000064", .request(14, .organizationList(after: "", limit: 100))),
    (
        "00000027 97 0000000e 0001000764656661756c74000000000c000000000000000000000000000000000000",
        .response(
            14,
            .organizationList(
                [OrganizationInfo(name: "default", requiresTwoFactor: false, members: 12, createdAt: 0, updatedAt: 0)],
                next: ""
            )
        )
    ),
    ("0000000b 29 0000000f 000461636d65", .request(15, .organizationRemove(organization: "acme"))),
    ("0000000a 33 00000010 0003626f62", .request(16, .twoFactorForce(user: "bob"))),
    ("0000000a 34 00000011 0003616d79", .request(17, .twoFactorReset(user: "amy"))),
    ("0000000c 35 00000012 0005616c696365", .request(18, .recoveryCodesIssue(user: "alice"))),
    (
        "00000030 94 00000012 0200134b3751462d324d33442d585234542d3642574300135a5a32412d515137502d4d4e334b2d34565745",
        .response(18, .recoveryCodes(["K7QF-2M3D-XR4T-6BWC", "ZZ2A-QQ7P-MN3K-4VWE"]))
    ),
    ("0000000a 36 00000013 0003626f62", .request(19, .unlock(user: "bob"))),
    (
        "00000029 10 00000014 0003616d79000768756e746572320200134b3751462d324d33442d585234542d36425743",
        .request(
            20,
            .login(user: "amy", password: Array("hunter2".utf8), codeKind: .recovery, code: "K7QF-2M3D-XR4T-6BWC")
        )
    ),
    ("00000006 95 00000014 09", .response(20, .recoveryLogin(remaining: 9))),
    (
        "0000001e 40 00000015 0003626f620000000000006553f10000000000000000000032",
        .request(21, .auditQuery(user: "bob", organization: "", since: 1_700_000_000, before: 0, limit: 50))
    ),
    (
        "00000048 98 00000015 00010000000000000007000000006553f22c02000000000003616d790003626f62000461636d650005666f72636500026f6b000770656e64696e670000000000000000",
        .response(
            21,
            .auditList(
                [
                    AuditEntry(
                        sequence: 7,
                        time: 1_700_000_300,
                        actor: .account("amy"),
                        target: "bob",
                        organization: "acme",
                        action: "force",
                        outcome: "ok",
                        detail: "pending"
                    )
                ],
                next: 0
            )
        )
    ),
    (
        "00000067 80 00000016 0006005e74776f2d666163746f72206f6e2027626f62272077617320726571756972656420627920616e2061646d696e206f66202761636d6527206f7220616e206f70657261746f723a2061736b207468656d20746f207475726e206974206f6666",
        .response(
            22,
            .error(
                code: .notPermitted,
                message:
                    "two-factor on 'bob' was required by an admin of 'acme' or an operator: ask them to turn it off"
            )
        )
    ),
    (
        "0000002f 11 00000002 0005 616c696365 0007 68756e74657232 01 0006 313233343536 0004 73736864"
            + " 0009 3139322e302e322e37",
        .request(
            2,
            .loginFrom(
                user: "alice",
                password: Array("hunter2".utf8),
                codeKind: .totp,
                code: "123456",
                origin: LoginOrigin(service: "sshd", remoteHost: "192.0.2.7")
            )
        )
    ),
    (
        "00000017 12 00000003 0005 616c696365 00 0000 0004 7375646f 0000",
        .request(3, .codeCheck(user: "alice", codeKind: .none, code: "", origin: LoginOrigin(service: "sudo")))
    ),
    (
        "00000022 13 00000004 0005 616c696365 0007 68756e74657232 00 0000 0002 7375 0000 000003e8",
        .request(
            4,
            .loginFrom(
                user: "alice",
                password: Array("hunter2".utf8),
                codeKind: .none,
                code: "",
                origin: LoginOrigin(service: "su", invokerUID: 1000)
            )
        )
    ),
    (
        "00000021 14 00000005 0005 616c696365 01 0006 313233343536 0004 7375646f 0000 000003e8",
        .request(
            5,
            .codeCheck(
                user: "alice",
                codeKind: .totp,
                code: "123456",
                origin: LoginOrigin(service: "sudo", invokerUID: 1000)
            )
        )
    ),
    (
        "00000052 a0 00000003 0049"
            + " 6f7470617574683a2f2f746f74702f74776f666163746f72643a616c6963653f7365637265743d4a4253575933"
            + " 44504548504b33505850266973737565723d74776f666163746f7264 0000",
        .response(3, .enrollScreen(otpauthURI: Array(exampleURI.utf8), screen: []))
    ),
    ("00000005 50 00000014", .request(20, .backupBegin)),
    ("0000000d a8 00000014 0000000000010000", .response(20, .backupStarted(size: 65536))),
    ("0000000d 51 00000015 0000000000000000", .request(21, .backupRead(offset: 0))),
    (
        "00000013 a9 00000015 0000000000000000 0004 00010203",
        .response(21, .backupChunk(offset: 0, bytes: [0, 1, 2, 3]))
    ),
    ("00000005 52 00000016", .request(22, .keyRotate)),
    (
        "0000002a aa 00000016 00000003 001f 2f7661722f6c69622f74776f666163746f72642f736563726574732e6b6579",
        .response(22, .keyRotated(accounts: 3, keyFile: "/var/lib/twofactord/secrets.key"))
    ),
    // The access messages (issue 11).
    ("0000000a 48 0000000a 0003626f62", .request(10, .graceRevoke(user: "bob"))),
    ("0000000a 49 0000000b 0003626f62", .request(11, .accessShow(user: "bob"))),
    (
        "00000044 bc 0000000b 01 01 0009 3139322e302e322e37 000000006553f100 000000006553f22c"
            + " 0001 0003626f62 000463726f6e 0000000065554280 01 000003e6 000000006553f100",
        .response(
            11,
            .accessInfo(
                graces: [
                    GraceInfo(kind: .remoteHost, key: "192.0.2.7", grantedAt: 1_700_000_000, expiresAt: 1_700_000_300)
                ],
                exemptions: [
                    ExemptionInfo(
                        user: "bob",
                        service: "cron",
                        fromUID: 998,
                        until: 1_700_086_400,
                        grantedAt: 1_700_000_000
                    )
                ]
            )
        )
    ),
    (
        "00000022 4a 0000000c 000461636d65 02 0000012c 01 01 000c3139322e302e322e302f3234 00 00",
        .request(
            12,
            .organizationAccessSet(organization: "acme", gracePeriod: .seconds(300), trustedNetworks: ["192.0.2.0/24"])
        )
    ),
    ("0000000b 4b 0000000d 000461636d65", .request(13, .organizationAccessShow(organization: "acme"))),
    (
        "00000037 bd 0000000d 000461636d65 00 00000000 02 000c3139322e302e322e302f3234"
            + " 000d323030313a6462383a3a2f3332 01 000661636d652d2a",
        .response(
            13,
            .organizationAccess(
                OrganizationAccessInfo(
                    name: "acme",
                    gracePeriod: nil,
                    trustedNetworks: ["192.0.2.0/24", "2001:db8::/32"],
                    agentNames: ["acme-*"]
                )
            )
        )
    ),
    (
        "0000001d 4c 0000000e 0003626f62 000463726f6e 0000000065554280 01 000003e6",
        .request(14, .exemptAdd(user: "bob", service: "cron", until: 1_700_086_400, fromUID: 998))
    ),
    ("00000010 4d 0000000f 0003626f62 000463726f6e", .request(15, .exemptRemove(user: "bob", service: "cron"))),
    ("00000009 4e 00000010 0000 0010", .request(16, .exemptList(after: "", limit: 16))),
    (
        "00000029 be 00000010 0001 0003626f62 000473736864 0000000065554280 00 00000000 000000006553f100 0000",
        .response(
            16,
            .exemptionList(
                [
                    ExemptionInfo(
                        user: "bob",
                        service: "sshd",
                        fromUID: nil,
                        until: 1_700_086_400,
                        grantedAt: 1_700_000_000
                    )
                ],
                next: ""
            )
        )
    ),
    (
        "00000017 41 00000007 0005616c696365000570686f6e6500000000",
        .request(7, .authenticatorAddBegin(user: "alice", label: "phone", algorithm: .default, digits: 0, period: 0))
    ),
    (
        "0000001b 42 00000008 0005616c696365000570686f6e650006313233343536",
        .request(8, .authenticatorAddConfirm(user: "alice", label: "phone", code: "123456"))
    ),
    ("0000000c 43 00000009 0005616c696365", .request(9, .authenticatorList(user: "alice"))),
    (
        "00000046 b8 00000009 02000764656661756c740106001e000000006553f100000000006553f16400000000"
            + " 000570686f6e650106001e000000006553f132000000000000000000000001",
        .response(
            9,
            .authenticatorList([
                AuthenticatorInfo(
                    label: "default",
                    algorithm: .sha1,
                    digits: 6,
                    period: 30,
                    enrolledAt: 1_700_000_000,
                    lastUsedAt: 1_700_000_100,
                    drift: 0
                ),
                AuthenticatorInfo(
                    label: "phone",
                    algorithm: .sha1,
                    digits: 6,
                    period: 30,
                    enrolledAt: 1_700_000_050,
                    lastUsedAt: 0,
                    drift: 1
                ),
            ])
        )
    ),
    (
        "00000013 44 0000000a 0005616c696365000570686f6e65",
        .request(10, .authenticatorRemove(user: "alice", label: "phone"))
    ),
    (
        "00000023 45 0000000b 0005616c696365000570686f6e6500063132333435360006363534333231",
        .request(11, .authenticatorResync(user: "alice", label: "phone", firstCode: "123456", secondCode: "654321"))
    ),
    (
        "00000043 80 0000000a 001d003a27616c6963652720686173206e6f2061757468656e74696361746f72202770686f6e65273a20"
            + " 7365652060326661206c69737420616c69636560",
        .response(
            10,
            .error(code: .noSuchAuthenticator, message: "'alice' has no authenticator 'phone': see `2fa list alice`")
        )
    ),
]

@Test func examples_encodeToTheDocumentedBytes() {
    for (hex, example) in documentedExamples {
        switch example {
        case .request(let id, let request):
            #expect(WireCodec.encodeRequest(request, id: id) == hexBytes(hex), "\(request)")
        case .response(let id, let response):
            #expect(WireCodec.encodeResponse(response, id: id) == hexBytes(hex), "\(response)")
        }
    }
}

@Test func examples_decodeFromTheDocumentedBytes() throws {
    for (hex, example) in documentedExamples {
        let frameBytes = hexBytes(hex)
        let length = try WireCodec.bodyLength(
            ofHeader: frameBytes.prefix(4),
            maximum: WireProtocol.maximumResponseBodyLength
        )
        #expect(length == frameBytes.count - 4)
        switch example {
        case .request(let id, let request):
            let decoded = try WireCodec.decodeRequest(body: body(frameBytes))
            #expect(decoded.id == id)
            #expect(decoded.request == request)
        case .response(let id, let response):
            let decoded = try WireCodec.decodeResponse(body: body(frameBytes))
            #expect(decoded.id == id)
            #expect(decoded.response == response)
        }
    }
}

@Test func examples_matchTheProtocolDocument() throws {
    let path =
        String(#filePath.split(separator: "/Tests/").dropLast().joined(separator: "/Tests/")) + "/docs/protocol.md"
    let document = try #require(readTextFile(path), "cannot read \(path)")
    let frames = documentedFrames(in: document)
    #expect(frames.count == documentedExamples.count)
    for (documented, example) in zip(frames, documentedExamples) {
        #expect(documented == hexBytes(example.hex))
    }
}

@Test func examples_coverEveryMessageType() {
    var types = Set<MessageType>()
    for (_, example) in documentedExamples {
        switch example {
        case .request(_, let request): types.insert(request.type)
        case .response(_, let response): types.insert(response.type)
        }
    }
    #expect(types == Set(MessageType.allCases))
}

@Test func pageLimits_inTheDocument_areTheDerivedOnes() throws {
    let path =
        String(#filePath.split(separator: "/Tests/").dropLast().joined(separator: "/Tests/")) + "/docs/protocol.md"
    let document = try #require(readTextFile(path), "cannot read \(path)")
    #expect(document.contains("| limit | u16 | 1..\(WireProtocol.maximumPageSize) |"))
    #expect(document.contains("| limit | u16 | 1..\(WireProtocol.maximumOrganizationPageSize) |"))
    #expect(document.contains("| limit | u16 | 1..\(WireProtocol.maximumAuditPageSize) |"))
    #expect(document.contains("A record takes at most \(WireProtocol.maximumAccountInfoLength) bytes"))
    #expect(document.contains("A record takes at most \(WireProtocol.maximumOrganizationInfoLength) bytes"))
    #expect(document.contains("A record takes at most \(WireProtocol.maximumAuditEntryLength) bytes"))
    #expect(document.contains("| bytes | bin | 0..\(WireProtocol.maximumBackupChunkLength) |"))
}
