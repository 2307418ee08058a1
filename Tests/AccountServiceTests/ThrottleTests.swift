import AccountService
import AccountStore
import Authentication
import Dispatch
import Synchronization
import Testing

/// The throttle as the hardening rules want it: no password oracle, no lock-out by strangers, unknown users
/// throttled like known ones, one atomic lock decision, a hard lock only an unlock ends.
@Suite struct ThrottleTests {
    let fixture: Fixture
    static let password = Array("pass-phrase".utf8)
    static let wrong = Array("wrong-phrase".utf8)

    init() throws {
        fixture = try Fixture()
        try fixture.add("ann")
    }

    @Test func noPasswordOracle_withoutACode_rightWrongAndUnknownAnswerAlike() throws {
        _ = try fixture.enrolled("bea")
        let right = try fixture.service.login(user: "bea", password: Self.password, code: .none)
        let wrong = try fixture.service.login(user: "bea", password: Self.wrong, code: .none)
        let unknown = try fixture.service.login(user: "nobody", password: Self.password, code: .none)
        #expect(right == .codeNeeded && wrong == .codeNeeded && unknown == .codeNeeded)
    }

    /// A held attempt (`codeNeeded`, then the Login with the code) counts once only when both send the same
    /// password: a Login that says it completes one but sends another password is a guess of its own, checked
    /// against the lock and counted, so the throttle's five free failures are five passwords checked.
    @Test func aHeldAttempt_completedWithAnotherPassword_countsThatGuess_andTheLockComesOnTime() throws {
        _ = try fixture.enrolled("bea")
        let origin = ThrottleOrigin.peer(uid: 4343)
        let key = ThrottleKey(subject: "bea", origin: origin)
        var answers: [LoginResult] = []
        for guess in 0..<4 {
            let memo = PasswordMemo()
            answers.append(
                try fixture.service.login(
                    user: "bea",
                    password: Array("guess-\(guess)-a".utf8),
                    code: .none,
                    origin: origin,
                    passwordMemo: memo
                )
            )
            answers.append(
                try fixture.service.login(
                    user: "bea",
                    password: Array("guess-\(guess)-b".utf8),
                    code: .totp("123456"),
                    origin: origin,
                    attemptHeld: true,
                    passwordMemo: memo
                )
            )
        }
        #expect(answers.prefix(5) == [.codeNeeded, .denied, .codeNeeded, .denied, .codeNeeded])
        #expect(answers.dropFirst(5).allSatisfy { $0 == .locked(retryAfter: 30) }, "\(answers)")
        #expect(try fixture.store.throttleRecord(key).failures == 5)
        // The right password too waits for the lock, held attempt or not.
        let memo = PasswordMemo()
        #expect(
            try fixture.service.login(
                user: "bea",
                password: Self.password,
                code: .totp("123456"),
                origin: origin,
                attemptHeld: true,
                passwordMemo: memo
            ) == .locked(retryAfter: 30)
        )
    }

    /// The same password twice completes the held attempt: a person's two-step login counts once.
    @Test func aHeldAttempt_completedWithTheSamePassword_countsOnce() throws {
        _ = try fixture.enrolled("bea")
        let origin = ThrottleOrigin.peer(uid: 4344)
        let key = ThrottleKey(subject: "bea", origin: origin)
        for _ in 0..<3 {
            let memo = PasswordMemo()
            let first = try fixture.service.login(
                user: "bea",
                password: Self.wrong,
                code: .none,
                origin: origin,
                passwordMemo: memo
            )
            #expect(first == .codeNeeded)
            let second = try fixture.service.login(
                user: "bea",
                password: Self.wrong,
                code: .totp("123456"),
                origin: origin,
                attemptHeld: true,
                passwordMemo: memo
            )
            #expect(second == .denied)
        }
        #expect(try fixture.store.throttleRecord(key).failures == 3)
    }

    @Test func aStrangersFailures_doNotLockTheAccountForOthers() throws {
        for _ in 0..<20 {
            _ = try fixture.service.login(user: "ann", password: Self.wrong, code: .none, origin: .peer(uid: 4242))
        }
        #expect(
            try fixture.service.login(user: "ann", password: Self.password, code: .none, origin: .peer(uid: 4242))
                == .locked(retryAfter: 30)
        )
        #expect(
            try fixture.service.login(user: "ann", password: Self.password, code: .none, origin: .peer(uid: 1000))
                == .ok
        )
        #expect(try fixture.service.login(user: "ann", password: Self.password, code: .none, origin: .local) == .ok)
        #expect(try fixture.stored("ann")?.failureCount == 0, "a stranger never touches the account's own counter")
    }

    @Test func remoteFailures_countPerHost_andForTheAccount() throws {
        for _ in 0..<5 {
            _ = try fixture.service.login(user: "ann", password: Self.wrong, code: .none, origin: .host("203.0.113.9"))
        }
        #expect(try fixture.stored("ann")?.failureCount == 5)
        let locked = try fixture.service.login(
            user: "ann",
            password: Self.password,
            code: .none,
            origin: .host("198.51.100.1")
        )
        #expect(locked == .locked(retryAfter: 30), "the account itself backs off")
        #expect(
            try fixture.service.login(user: "ann", password: Self.password, code: .none, origin: .peer(uid: 1000))
                == .ok,
            "a local user is not locked out by remote guesses"
        )
    }

    @Test func unknownUsers_areThrottledLikeKnownOnes() throws {
        var known: [LoginResult] = []
        var unknown: [LoginResult] = []
        for _ in 0..<7 {
            known.append(try fixture.service.login(user: "ann", password: Self.wrong, code: .totp("123456")))
            unknown.append(try fixture.service.login(user: "ghost", password: Self.wrong, code: .totp("123456")))
        }
        #expect(known == unknown)
        #expect(known.suffix(2).allSatisfy { if case .locked = $0 { true } else { false } })
    }

    /// Failures from one host lock a name without an account for every other host exactly as they lock an
    /// account: otherwise an attacker with two addresses learns which accounts exist.
    @Test func unknownUsers_areLockedForEveryHost_likeKnownOnes() throws {
        func history(_ user: String) throws -> [LoginResult] {
            var answers: [LoginResult] = []
            for _ in 0..<6 {
                answers.append(
                    try fixture.service.login(
                        user: user,
                        password: Self.wrong,
                        code: .none,
                        origin: .host("203.0.113.9")
                    )
                )
            }
            answers.append(
                try fixture.service.login(user: user, password: Self.wrong, code: .none, origin: .host("198.51.100.1"))
            )
            return answers
        }
        let known = try history("ann")
        let unknown = try history("ghost")
        #expect(known == Array(repeating: .codeNeeded, count: 5) + [.locked(retryAfter: 30), .locked(retryAfter: 30)])
        #expect(unknown == known)
    }

    @Test func aHundredFailuresOfAnUnknownName_throughPrivilegedPeers_lockItLikeAKnownOne() throws {
        for _ in 0..<100 {
            for user in ["ann", "ghost"] {
                _ = try fixture.service.login(user: user, password: Self.wrong, code: .totp("1"), origin: .host("h1"))
            }
            fixture.clock.advance(by: 3601)
        }
        for user in ["ann", "ghost"] {
            for origin in [ThrottleOrigin.host("h2"), .local] {
                #expect(
                    try fixture.service.login(user: user, password: Self.wrong, code: .none, origin: origin)
                        == .locked(retryAfter: .max),
                    "\(user) from \(origin)"
                )
            }
        }
    }

    @Test func whileThrottled_aRightPasswordAndCodeAreLocked_andTheReplayStepIsUntouched() throws {
        let secret = try fixture.enrolled("cid")
        let step = try fixture.stored("cid")?.lastAcceptedStep
        for _ in 0..<5 { _ = try fixture.service.login(user: "cid", password: Self.wrong, code: .totp("000000")) }
        fixture.clock.advance(by: 5)
        let code = try oathtool(secret, at: fixture.clock.now + 30)
        #expect(
            try fixture.service.login(user: "cid", password: Self.password, code: .totp(code))
                == .locked(retryAfter: 25)
        )
        #expect(try fixture.stored("cid")?.lastAcceptedStep == step)
        fixture.clock.advance(by: 25)
        #expect(try fixture.service.login(user: "cid", password: Self.password, code: .totp(code)) == .ok)
    }

    @Test func theLockDecisionAndTheCount_areOneStep_whateverTheParallelism() throws {
        let answers = Mutex<[LoginResult]>([])
        let service = fixture.service
        DispatchQueue.concurrentPerform(iterations: 40) { _ in
            let result = try? service.login(user: "ann", password: Self.wrong, code: .totp("123456"))
            answers.withLock { $0.append(result ?? .ok) }
        }
        let all = answers.withLock { $0 }
        #expect(all.filter { $0 == .denied }.count == Int(ThrottlePolicy.standard.freeFailures), "\(all)")
        #expect(all.allSatisfy { $0 == .denied || { if case .locked = $0 { true } else { false } }($0) })
    }

    @Test func aHundredFailuresThroughPrivilegedPeers_lockUntilUnlocked() throws {
        for _ in 0..<100 {
            _ = try fixture.service.login(user: "ann", password: Self.wrong, code: .totp("1"), origin: .local)
            fixture.clock.advance(by: 3601)
        }
        #expect(
            try fixture.service.login(user: "ann", password: Self.password, code: .none) == .locked(retryAfter: .max)
        )
        fixture.clock.advance(by: 30 * 86_400)
        #expect(
            try fixture.service.login(user: "ann", password: Self.password, code: .none) == .locked(retryAfter: .max)
        )
        #expect(try fixture.service.status(caller: root, name: "ann", originLocksShown: 20).lockedUntil == .max)
        try fixture.service.unlock(caller: root, name: "ann")
        #expect(try fixture.service.login(user: "ann", password: Self.password, code: .none) == .ok)
    }
}
