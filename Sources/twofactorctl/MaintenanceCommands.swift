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
        let output = try NewPrivateFile(file, options: options)
        let session = try options.open()
        defer { session.close() }
        let begin = try session.send(.backupBegin)
        guard case .backupStarted(let size) = begin else { throw options.unexpected(begin) }
        var offset: UInt64 = 0
        while offset < size {
            let answer = try session.send(.backupRead(offset: offset))
            guard case .backupChunk(offset, let bytes) = answer, !bytes.isEmpty else {
                throw options.unexpected(answer)
            }
            try output.write(bytes)
            offset += UInt64(bytes.count)
        }
        try output.finish()
        if options.json {
            print(
                JSONValue.object([
                    ("ok", .bool(true)), ("file", .string(file)), ("bytes", .number(Int64(clamping: size))),
                ]).text
            )
        } else {
            print(
                "Wrote a backup of \(size) bytes to \(file). Keep the secrets key separately: the backup cannot be read without it."
            )
        }
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
                JSONValue.object([
                    ("ok", .bool(true)), ("accounts", .number(Int64(accounts))), ("keyFile", .string(keyFile)),
                ])
                .text
            )
        } else {
            print("Re-sealed the secrets of \(accounts) accounts under a new key, now in \(keyFile).")
        }
    }
}
