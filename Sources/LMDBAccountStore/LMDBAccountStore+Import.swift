import AccountStore
import LMDB

// MUSTs of a bulk import (the load generator's direct loader, and any tool that fills a store offline):
// - every account is written exactly as `create` writes it: sealed under the store's current key, with its
//   entry in the organization member index, its organization existing;
// - one call is one write: all of its accounts are durable when it returns, and none is written when it
//   throws (an existing name, also one repeated within the call, refuses the whole call);
// - nothing else is written: no audit record, no throttle entry.

extension LMDBAccountStore {
    /// How many accounts one `importAccounts` call should carry: large enough that the synced commit is
    /// a small part of the cost, small enough that the write's dirty pages (a few MiB) stay in memory.
    public static let importChunkSize = 10_000

    /// Writes `accounts`, already built (their secrets in the clear, as `create` takes them), in one write
    /// transaction: all of them or, when one is refused, none. Throws `.alreadyExists` for the first name
    /// that exists in the store or earlier in `accounts`, and `.organizationNotFound` for an organization
    /// the store does not have. Call it once per chunk of about `importChunkSize` accounts.
    ///
    /// Meant for loading a store before a daemon serves it (benchmarks, migrations): it writes no audit
    /// record and checks no password policy.
    public func importAccounts(_ accounts: [Account]) throws(AccountStoreError) {
        guard !accounts.isEmpty else { return }
        try write { transaction in
            for account in accounts {
                try insert(account, in: transaction)
            }
        }
    }

    /// How many accounts the store holds (LMDB's entry count of the `accounts` database).
    public func accountCount() throws(AccountStoreError) -> Int {
        try read { transaction in try transaction.count(in: accounts) }
    }
}
