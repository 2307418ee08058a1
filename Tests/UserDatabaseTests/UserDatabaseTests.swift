import Foundation
import Glibc
import Testing
import UserDatabase

/// Answers checked against getent(1), which reads the same databases through its own code.
@Suite struct UserDatabaseTests {
    @Test(arguments: ["root", "nobody"])
    func aUser_byUIDAndByName_isTheEntryGetentShows(_ name: String) throws {
        let fields = try getent("passwd", name)
        let uid = try #require(uid_t(fields[2]))
        let expected = UserDatabase.User(name: fields[0], uid: uid, shell: fields[6])
        #expect(UserDatabase.user(withUID: uid) == expected)
        #expect(UserDatabase.user(named: name) == expected)
    }

    @Test func aGroupsID_isTheOneGetentShows() throws {
        let fields = try getent("group", "nogroup")
        #expect(UserDatabase.groupID(named: "nogroup") == gid_t(fields[2]))
    }

    /// A user listed as a member of a group not its own (postgres in ssl-cert, once make test installed
    /// PostgreSQL): the groups are those id(1) shows; and the primary group given is always among them.
    @Test func theGroupsOfAUser_areThoseIDShows_withThePrimaryGroupGiven() throws {
        let listed = try tool("/usr/bin/getent", ["group"]).split(separator: "\n").map {
            $0.split(separator: ":", omittingEmptySubsequences: false)
        }
        let member = try #require(
            listed.lazy.compactMap { $0.count == 4 ? $0[3].split(separator: ",").first.map(String.init) : nil }.first,
            "no group in this system's group database lists a member"
        )
        let primary = try #require(gid_t(try getent("passwd", member)[3]))
        let shown = try tool("/usr/bin/id", ["-G", member]).split(separator: " ").compactMap { gid_t($0) }
        #expect(shown.count > 1)
        #expect(Set(UserDatabase.groups(ofUserNamed: member, primaryGID: primary)) == Set(shown))
        #expect(UserDatabase.groups(ofUserNamed: member, primaryGID: 4242).contains(4242))
    }

    @Test func namesAndIDsWithNoEntry_areNil() {
        #expect(UserDatabase.user(withUID: 3_999_999_999) == nil)
        #expect(UserDatabase.user(named: "no-such-user-twofactord") == nil)
        #expect(UserDatabase.groupID(named: "no-such-group-twofactord") == nil)
    }

    /// The `:`-separated fields of `key`'s entry in `database`, from getent.
    private func getent(_ database: String, _ key: String) throws -> [String] {
        try tool("/usr/bin/getent", [database, key]).split(separator: ":", omittingEmptySubsequences: false)
            .map(String.init)
    }

    /// What `path` prints with `arguments`, without its last newline; it must exit 0.
    private func tool(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(path) \(arguments) failed")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
    }
}
