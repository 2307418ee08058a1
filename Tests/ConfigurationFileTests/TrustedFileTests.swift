import Glibc
import TestSupport
import Testing

@testable import ConfigurationFile

@Suite struct TrustedFileTests {
    static func status(uid: uid_t, gid: gid_t, mode: mode_t) -> stat {
        var status = stat()
        status.st_uid = uid
        status.st_gid = gid
        status.st_mode = mode
        return status
    }

    @Test(
        arguments: [
            (0, 0, S_IFREG | 0o644),
            (0, 0, S_IFREG | 0o664),
            (990, 990, S_IFREG | 0o660),
            (990, 0, S_IFREG | 0o620),
        ] as [(uid_t, gid_t, mode_t)]
    )
    func check_acceptsFilesOnlyRootOrTheDaemonCanWrite(uid: uid_t, gid: gid_t, mode: mode_t) throws {
        try TrustedFile.check(Self.status(uid: uid, gid: gid, mode: mode), path: "/etc/x", user: 990, group: 990)
    }

    @Test(
        arguments: [
            (1000, 0, S_IFREG | 0o644, "owned by uid 1000"),
            (0, 0, S_IFREG | 0o646, "others can write it"),
            (0, 100, S_IFREG | 0o664, "its group (gid 100) can write it"),
            (0, 0, S_IFDIR | 0o755, "not a regular file"),
        ] as [(uid_t, gid_t, mode_t, String)]
    )
    func check_refusesFilesOthersCanWrite(uid: uid_t, gid: gid_t, mode: mode_t, reason: String) {
        #expect {
            try TrustedFile.check(Self.status(uid: uid, gid: gid, mode: mode), path: "/etc/x", user: 990, group: 990)
        } throws: { error in
            let description = "\(error)"
            return description.contains("'/etc/x'") && description.contains(reason)
        }
    }

    @Test func read_checksTheRealFile() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/twofactord.conf"
        let descriptor = open(path, O_CREAT | O_WRONLY, 0o644)
        #expect(descriptor >= 0)
        _ = "[daemon]\n".withCString { write(descriptor, $0, 9) }
        close(descriptor)
        #expect(try TrustedFile.read(path) == "[daemon]\n")

        chmod(path, 0o666)
        #expect(throws: TrustedFile.Refusal.self) { try TrustedFile.read(path) }

        #expect(try TrustedFile.read(directory.path + "/missing", mayBeMissing: true) == nil)
        #expect {
            try TrustedFile.read(directory.path + "/missing")
        } throws: { "\($0)".contains("missing': cannot open it: No such file") }
    }
}
