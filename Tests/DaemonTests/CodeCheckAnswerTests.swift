import AccountService
import AccountStore
import LMDBAccountStore
import Logging
import NIOCore
import NIOPosix
import PasswordHashing
import Synchronization
import Testing
import TestSupport
import Wire

@testable import Daemon

/// A code check's answer is built where the connection logs it, on the event loop, once the check's write is
/// done: building it must not wait there for an operator lookup.
@Suite struct CodeCheckAnswerTests {
    @Test func aFailedCodeCheck_isAnsweredOnTheEventLoop_withTheOperatorsMessage() throws {
        let directory = TemporaryDirectory(prefix: "code-check-answer-tests")
        let store = BrokenCodeCheckStore(try LMDBAccountStore(directory: directory.path + "/state"))
        let service = AccountService(
            store: store,
            hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
            clock: { 1_900_000_000 },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let lookups = OperatorCache(daemonUID: 4_242, lookup: { $0.uid == 1_000 })
        var dispatcher = Dispatcher(
            service: service,
            operators: OperatorPolicy(groupName: "twofactord-no-such-group", daemonUID: 4_242)
        )
        dispatcher.operatorLookups = lookups
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answered = Mutex<EventLoopFuture<Response>?>(nil)
        dispatcher.handle(
            .codeCheck(user: "ann", codeKind: .totp, code: "000000", origin: LoginOrigin()),
            from: PeerCredentials(pid: 1, uid: 1_000, gid: 1_000),
            session: Session()
        ) { answer in
            // As ConnectionHandler does: the answer is built on the connection's event loop.
            let response = loop.submit { answer().response }
            answered.withLock { $0 = response }
        }
        for _ in 0..<10_000 where answered.withLock({ $0 == nil }) { usleep(1000) }
        let response = try #require(answered.withLock { $0 }).wait()
        #expect(
            response
                == .error(
                    code: .storageFailure,
                    message: "cannot read /var/lib/twofactord/data.mdb: Input/output error"
                ),
            "an operator is told the whole failure"
        )
    }
}

/// The LMDB store, except that reading an account for a code check fails, as on a broken disk.
final class BrokenCodeCheckStore: ForwardingStore, @unchecked Sendable {
    override func accountForCodeCheck(named name: AccountName) throws(AccountStoreError) -> Account? {
        throw .storageFailure("cannot read /var/lib/twofactord/data.mdb: Input/output error")
    }
}
