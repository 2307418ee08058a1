import AccountStore
import PostgresNIO
import StoredRecords

extension PostgresAccountStore {
    public func organization(named name: OrganizationName) throws(AccountStoreError) -> Organization? {
        try read { transaction in
            try transaction.rows("SELECT record FROM organizations WHERE name = \(name.value)").first.map {
                try Self.decodeOrganization(try $0.decode(ByteBuffer.self).bytes, name: name.value)
            }
        }
    }

    public func organizations(after: OrganizationName?, limit: Int) throws(AccountStoreError) -> [Organization] {
        guard limit > 0 else { return [] }
        let start = after?.value ?? ""
        return try read { transaction in
            try transaction.rows(
                "SELECT name, record FROM organizations WHERE name > \(start) ORDER BY name LIMIT \(Int64(limit))"
            ).map { row in
                let (name, record) = try row.decode((String, ByteBuffer).self)
                return try Self.decodeOrganization(record.bytes, name: name)
            }
        }
    }

    /// Counted with the index on `accounts (organization, name)`, without reading the records.
    public func memberCount(of name: OrganizationName) throws(AccountStoreError) -> Int {
        try read { transaction in
            let rows = try transaction.rows("SELECT count(*)::bigint FROM accounts WHERE organization = \(name.value)")
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    public func createOrganization(_ organization: Organization) throws(AccountStoreError) {
        try write { transaction in
            let inserted = try transaction.rows(
                """
                INSERT INTO organizations (name, record)
                VALUES (\(organization.name.value), \(OrganizationRecord.encode(organization).buffer))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """
            )
            guard !inserted.isEmpty else { throw AccountStoreError.organizationExists(organization.name) }
        }
    }

    /// Locks the organization's row, then its members' rows in name order (the order every transaction that
    /// locks several accounts uses), and changes them in the same transaction.
    @discardableResult
    public func updateOrganization<Rejection: Error>(
        _ name: OrganizationName,
        _ body: (inout Organization) throws(Rejection) -> Void,
        eachMember: (inout Account) -> Bool
    ) throws(UpdateError<Rejection>) -> Organization {
        let outcome: Result<Organization, Rejection>
        do throws(AccountStoreError) {
            outcome = try write { (transaction: Transaction) throws -> Result<Organization, Rejection> in
                let rows = try transaction.rows(
                    "SELECT record FROM organizations WHERE name = \(name.value) FOR UPDATE"
                )
                guard let row = rows.first else { throw AccountStoreError.organizationNotFound(name) }
                var organization = try Self.decodeOrganization(try row.decode(ByteBuffer.self).bytes, name: name.value)
                do throws(Rejection) {
                    try body(&organization)
                } catch {
                    transaction.rollbackOnly = true
                    return .failure(error)
                }
                guard organization.name == name else {
                    throw AccountStoreError.invalidChange("an organization cannot be renamed")
                }
                try transaction.execute(
                    """
                    UPDATE organizations SET record = \(OrganizationRecord.encode(organization).buffer)
                    WHERE name = \(name.value)
                    """
                )
                let members = try transaction.rows(
                    "SELECT name, record FROM accounts WHERE organization = \(name.value) ORDER BY name FOR UPDATE"
                )
                for member in members {
                    let (accountName, record) = try member.decode((String, ByteBuffer).self)
                    var account = try Self.decode(record.bytes, name: accountName)
                    if eachMember(&account) {
                        try Self.store(AccountRecord.encode(account), of: account, in: transaction)
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
            // The row lock conflicts with the share lock `create` takes, so no member arrives meanwhile.
            let rows = try transaction.rows("SELECT 1 FROM organizations WHERE name = \(name.value) FOR UPDATE")
            guard !rows.isEmpty else { throw AccountStoreError.organizationNotFound(name) }
            let count =
                try transaction.rows(
                    "SELECT count(*)::bigint FROM accounts WHERE organization = \(name.value)"
                ).first?.decode(Int64.self) ?? 0
            guard count == 0 else { throw AccountStoreError.organizationNotEmpty(name, members: Int(count)) }
            try transaction.execute("DELETE FROM organizations WHERE name = \(name.value)")
        }
    }

    static func decodeOrganization(_ bytes: [UInt8], name: String) throws(AccountStoreError) -> Organization {
        guard let organization = try? OrganizationRecord.decode(bytes), organization.name.value == name else {
            throw .corruptRecord(key: "organizations/" + name)
        }
        return organization
    }
}
