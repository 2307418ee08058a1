import AccountService
import AccountStore
import Wire

// MUSTs of maintenance requests:
// - only an operator peer may send them; an account logged in on the connection, even an admin, may not;
// - the daemon never opens a path a client names: a backup leaves the daemon as bytes on the operator's
//   own connection, and the operator's client writes the file with the operator's own rights.
extension Dispatcher {
    /// Answers BackupBegin, BackupRead and KeyRotate.
    func maintain(_ request: Request, from peer: PeerCredentials, session: inout Session) -> Response {
        guard session.account == nil, isOperator(peer) else {
            return .error(
                code: .notPermitted,
                message: "backups and key rotation need operator rights (root or group '\(operators.groupName)'); "
                    + "a login as an account, even an admin, is not enough"
            )
        }
        guard let maintenance else {
            return .error(
                code: .notSupported,
                message: "this daemon's store cannot take backups or rotate keys through twofactorctl: "
                    + "use the database server's own tools (see docs/fleet.md)"
            )
        }
        do {
            switch request {
            case .backupBegin:
                let snapshot = try service.maintaining(.backup, operatorUID: peer.uid, detail: { "\($0.size) bytes" }) {
                    () throws(AccountStoreError) in try maintenance.snapshot()
                }
                session.backup = snapshot
                return .backupStarted(size: snapshot.size)
            case .backupRead(let offset):
                guard let snapshot = session.backup else {
                    return .error(code: .invalidArgument, message: "no backup in progress: send BackupBegin first")
                }
                guard offset < snapshot.size else {
                    return .error(
                        code: .invalidArgument,
                        message: "offset \(offset) is past the end of the \(snapshot.size)-byte backup"
                    )
                }
                let bytes: [UInt8]
                do {
                    bytes = try snapshot.read(at: offset, count: WireProtocol.maximumBackupChunkLength)
                } catch {
                    session.backup = nil
                    return .error(code: .storageFailure, message: "\(error): send BackupBegin again")
                }
                if offset + UInt64(bytes.count) >= snapshot.size { session.backup = nil }
                return .backupChunk(offset: offset, bytes: bytes)
            case .keyRotate:
                let rotation = try service.maintaining(
                    .keyRotate,
                    operatorUID: peer.uid,
                    detail: { "\($0.accounts) accounts re-sealed" }
                ) { () throws(AccountStoreError) in try maintenance.rotateSecretsKey() }
                return .keyRotated(accounts: UInt32(clamping: rotation.accounts), keyFile: rotation.keyFile)
            default:
                return .error(code: .malformedRequest, message: "this request is not served here")
            }
        } catch {
            return .error(code: Self.errorCode(for: error.kind), message: error.message)
        }
    }
}
