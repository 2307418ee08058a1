import AccountStore
import Glibc
import StoredRecords

/// One process at a time works on a state directory: the serving daemon, or a maintenance job that writes
/// (`--restore-from`, `--rotate-key`, `--copy-store-to`). Each holds an exclusive `flock` on the directory
/// itself for as long as it lives, so no file is added to it, and the kernel drops the lock when the process
/// ends, however it ends: a killed daemon leaves no stale lock. Without it, a key rotation beside a running
/// daemon would rename a new key over the one the daemon keeps sealing new secrets with, losing those.
/// Reading jobs (`--check`, `--backup`) take no lock: they read one consistent LMDB snapshot (on a store without
/// `lock.mdb`, which no process has open, they lock the directory shared while they read:
/// `StateDirectory.ReadOnlySource`).
public final class StateDirectoryLock {
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Takes the lock on `path` (checked as the store checks it; created, mode 0700, when missing and
    /// `creating`, else refused), or throws at once, changing nothing, when another process holds it.
    public convenience init(_ path: String, creating: Bool = true) throws(AccountStoreError) {
        guard let descriptor = try Self.lockIfFree(path, creating: creating) else {
            throw .storageFailure(
                "another twofactord is using \(path) (a daemon serving it, or a restore, key rotation, copy or "
                    + "backup): "
                    + "stop it first (systemctl stop twofactord.service twofactord.socket), then run this again"
            )
        }
        self.init(descriptor: descriptor)
    }

    /// Takes the lock on `path`, waiting while another process holds it: `whileWaiting` runs before each try
    /// after the first, once a second. For a daemon that socket activation starts while an offline job works on
    /// the directory: it serves the connections waiting on its socket once the job ends, instead of failing
    /// until systemd stops starting it.
    public static func waitingForIt(
        _ path: String,
        creating: Bool = true,
        whileWaiting: () -> Void
    ) throws(AccountStoreError) -> StateDirectoryLock {
        while true {
            if let descriptor = try lockIfFree(path, creating: creating) {
                return StateDirectoryLock(descriptor: descriptor)
            }
            whileWaiting()
            sleep(1)
        }
    }

    /// The locked directory's descriptor, or nil when another process holds the lock.
    private static func lockIfFree(_ path: String, creating: Bool) throws(AccountStoreError) -> Int32? {
        let directory = try StateDirectory.openDirectory(path, creating: creating)
        guard flock(directory, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(directory)
            if code == EWOULDBLOCK { return nil }
            throw .storageFailure("cannot lock the state directory \(path): \(FileText.systemMessage(code))")
        }
        return directory
    }

    deinit { close(descriptor) }
}
