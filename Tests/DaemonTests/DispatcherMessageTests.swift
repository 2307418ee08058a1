import AccountService
import Testing

@testable import Daemon

@Suite struct DispatcherMessageTests {
    let storage = ServiceError(
        .storageFailure,
        "cannot create the state directory /var/lib/twofactord: Permission denied: choose another --state-dir"
    )

    @Test func storageFailure_toAnotherPeer_namesNoPath_andSaysWhereToLook() {
        let message = Dispatcher.message(for: storage, toOperator: false)
        #expect(!message.contains("/"), "\(message)")
        #expect(message == "the daemon could not read or write its state: an operator can read its log")
    }

    @Test func internalError_toAnotherPeer_namesNoDetail() {
        let error = ServiceError(.internalError, "password hashing failed: EVP_PBE_scrypt in /usr/lib/ssl")
        #expect(!Dispatcher.message(for: error, toOperator: false).contains("/"))
    }

    @Test func operators_getTheWholeSentence_andOtherErrorsPassUnchanged() {
        #expect(Dispatcher.message(for: storage, toOperator: true) == storage.message)
        let refused = ServiceError(.notPermitted, "an agent may act only on its own account 'ann'")
        #expect(Dispatcher.message(for: refused, toOperator: false) == refused.message)
    }
}
