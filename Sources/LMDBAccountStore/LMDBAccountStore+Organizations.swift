import AccountStore
import LMDB
import StoredRecords

extension LMDBAccountStore {
    public func organization(named name: OrganizationName) throws(AccountStoreError) -> Organization? {
        try read { transaction in try Self.loadOrganization(name, from: transaction, in: databases.organizations) }
    }

    public func organizations(after: OrganizationName?, limit: Int) throws(AccountStoreError) -> [Organization] {
        guard limit > 0 else { return [] }
        return try read { transaction in
            let entries = try Self.range(
                in: databases.organizations,
                of: transaction,
                prefix: [],
                after: after.map(Self.key),
                limit: limit
            )
            return try entries.map { try Self.decodeOrganization($0.value, key: $0.key) }
        }
    }

    public func memberCount(of name: OrganizationName) throws(AccountStoreError) -> Int {
        try read { transaction in
            try Self.range(
                in: databases.members,
                of: transaction,
                prefix: Self.memberPrefix(name),
                after: nil,
                limit: .max
            ).count
        }
    }

    public func createOrganization(_ organization: Organization) throws(AccountStoreError) {
        try write { transaction in
            do throws(LMDBError) {
                try transaction.put(
                    OrganizationRecord.encode(organization),
                    for: Self.key(organization.name),
                    in: databases.organizations,
                    flags: .noOverwrite
                )
            } catch .keyExists {
                throw AccountStoreError.organizationExists(organization.name)
            }
        }
    }

    @discardableResult
    public func updateOrganization<Rejection: Error>(
        _ name: OrganizationName,
        _ body: (inout Organization) throws(Rejection) -> Void,
        eachMember: (inout Account) -> Bool
    ) throws(UpdateError<Rejection>) -> Organization {
        let outcome: Result<Organization, Rejection>
        do throws(AccountStoreError) {
            outcome = try write { (transaction: borrowing Transaction) throws -> Result<Organization, Rejection> in
                guard var organization = try Self.loadOrganization(name, from: transaction, in: databases.organizations)
                else { throw AccountStoreError.organizationNotFound(name) }
                do throws(Rejection) {
                    try body(&organization)
                } catch {
                    // Nothing was put yet: the write is committed empty.
                    return .failure(error)
                }
                guard organization.name == name else {
                    throw AccountStoreError.invalidChange("an organization cannot be renamed")
                }
                try transaction.put(
                    OrganizationRecord.encode(organization),
                    for: Self.key(name),
                    in: databases.organizations
                )
                let prefix = Self.memberPrefix(name)
                let members = try Self.range(
                    in: databases.members,
                    of: transaction,
                    prefix: prefix,
                    after: nil,
                    limit: .max
                )
                for (key, _) in members {
                    let accountKey = Array(key[prefix.count...])
                    guard let bytes = try transaction.get(accountKey, in: accounts) else { continue }
                    var account = try decodeAccount(bytes, key: accountKey, in: transaction)
                    if eachMember(&account) {
                        try putRecord(AccountRecord.encode(account), for: accountKey, in: transaction)
                    }
                }
                return .success(organization)
            }
        } catch {
            throw .store(error)
        }
        return try UpdateError.unwrap(outcome)
    }

    public func removeOrganization(_ name: OrganizationName) throws(AccountStoreError) {
        try write { transaction in
            let members = try Self.range(
                in: databases.members,
                of: transaction,
                prefix: Self.memberPrefix(name),
                after: nil,
                limit: .max
            )
            guard members.isEmpty else { throw AccountStoreError.organizationNotEmpty(name, members: members.count) }
            guard try transaction.delete(Self.key(name), in: databases.organizations) else {
                throw AccountStoreError.organizationNotFound(name)
            }
        }
    }

    static func loadOrganization(
        _ name: OrganizationName,
        from transaction: borrowing Transaction,
        in organizations: Database
    ) throws -> Organization? {
        guard let bytes = try transaction.get(key(name), in: organizations) else { return nil }
        return try decodeOrganization(bytes, key: key(name))
    }

    static func decodeOrganization(_ bytes: [UInt8], key: [UInt8]) throws(AccountStoreError) -> Organization {
        guard let organization = try? OrganizationRecord.decode(bytes), Self.key(organization.name) == key else {
            throw .corruptRecord(key: "organizations/" + String(decoding: key, as: UTF8.self))
        }
        return organization
    }
}
