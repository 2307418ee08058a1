import ArgumentParser
import CommandLineUI
import Glibc
import Wire

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent, compacted copy of the daemon's database to a new file, while it serves.",
        discussion: """
            For operators. The daemon takes one consistent snapshot and sends it over the socket; this \
            command writes it to FILE with your own rights, as a new file with mode 0600 (an existing file \
            or a symbolic link is refused, never overwritten or followed). Secrets in the backup stay \
            sealed and the key is not in it: keep the secrets key separately. Restore with \
            twofactord --restore-from FILE, which also raises every replay step past the current time.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: ArgumentHelp("The new file to write.", valueName: "file")) var file: String

    func run() throws {
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw options.fail(
                "cannot create \(file): \(String(cString: strerror(errno))): give the name of a new file",
                code: "invalidArgument",
                exitCode: 1
            )
        }
        var written = false
        defer {
            close(descriptor)
            if !written { unlink(file) }
        }
        let session = try options.open()
        defer { session.close() }
        let begin = try session.send(.backupBegin)
        guard case .backupStarted(let size) = begin else { throw options.unexpected(begin) }
        var offset: UInt64 = 0
        while offset < size {
            let answer = try session.send(.backupRead(offset: offset))
            guard case .backupChunk(offset, let bytes) = answer, !bytes.isEmpty else { throw options.unexpected(answer) }
            try writeAll(bytes, to: descriptor)
            offset += UInt64(bytes.count)
        }
        guard fsync(descriptor) == 0 else { throw writeFailure() }
        written = true
        if options.json {
            print(JSONValue.object([("ok", .bool(true)), ("file", .string(file)), ("bytes", .number(Int64(clamping: size)))]).text)
        } else {
            print("Wrote a backup of \(size) bytes to \(file). Keep the secrets key separately: the backup cannot be read without it.")
        }
    }

    private func writeAll(_ bytes: [UInt8], to descriptor: Int32) throws {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + done, bytes.count - done) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw writeFailure() }
            done += count
        }
    }

    private func writeFailure() -> ExitCode {
        options.fail(
            "cannot write \(file): \(String(cString: strerror(errno))): nothing was kept; free some space and retry",
            code: "storageFailure",
            exitCode: 1
        )
    }
}

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage the key that seals secrets at rest (operators).",
        subcommands: [KeyRotate.self]
    )
}

struct KeyRotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Re-seal every secret under a new random key and replace the key file, while the daemon serves.",
        discussion: """
            For operators. The daemon writes the new key beside the old one, re-seals every TOTP secret and \
            recovery-code digest in one transaction, then renames the new key over the old. A key given as \
            a systemd credential cannot be replaced by the daemon: stop it and run twofactord --rotate-key \
            with a key file instead. Backups taken before the rotation need the old key.
            """
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        let answer = try options.send(.keyRotate)
        guard case .keyRotated(let accounts, let keyFile) = answer else { throw options.unexpected(answer) }
        if options.json {
            print(
                JSONValue.object([("ok", .bool(true)), ("accounts", .number(Int64(accounts))), ("keyFile", .string(keyFile))])
                    .text
            )
        } else {
            print("Re-sealed the secrets of \(accounts) accounts under a new key, now in \(keyFile).")
        }
    }
}
