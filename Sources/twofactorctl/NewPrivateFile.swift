import ArgumentParser
import Glibc

/// A file this command creates for what only its caller may read (a backup, a QR code holding a secret): new,
/// mode 0600, never an existing file or a link in its place (an operator may run this as root in /tmp), and
/// removed again unless `finish()` synced all of it.
final class NewPrivateFile {
    let path: String
    private let descriptor: Int32
    private let options: CommonOptions
    private var finished = false

    init(_ path: String, options: CommonOptions) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason =
                errno == EEXIST
                ? "it already exists (a file or a link): remove it or name a new file"
                : "\(String(cString: strerror(errno))): give the name of a new file"
            throw options.fail(
                "cannot create \(path): \(reason)",
                code: "invalidArgument",
                exitCode: 1
            )
        }
        self.path = path
        self.descriptor = descriptor
        self.options = options
    }

    deinit {
        close(descriptor)
        if !finished { unlink(path) }
    }

    func write(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, bytes.count - done) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw writeFailure() }
            done += count
        }
    }

    /// Syncs the file and keeps it.
    func finish() throws {
        guard fsync(descriptor) == 0 else { throw writeFailure() }
        finished = true
    }

    private func writeFailure() -> ExitCode {
        options.fail(
            "cannot write \(path): \(String(cString: strerror(errno))): nothing was kept; free some space and retry",
            code: "storageFailure",
            exitCode: 1
        )
    }
}
