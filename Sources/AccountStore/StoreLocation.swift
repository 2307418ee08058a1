/// What `--store`, `store =` and `--copy-store-to` name: a PostgreSQL store by a URL of one of libpq's two
/// schemes, else an LMDB state directory.
public enum StoreLocation {
    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }
}
