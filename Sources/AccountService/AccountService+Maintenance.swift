import AccountStore

extension AccountService {
    /// Runs a whole-store operation for an operator (a backup snapshot, a key rotation) and writes it to the
    /// audit trail, whether it worked or not. `detail` describes the result for the trail; it must hold no secret.
    public func maintaining<T>(
        _ action: AuditAction,
        operatorUID: UInt32,
        detail: (T) -> String,
        _ body: () throws(AccountStoreError) -> T
    ) throws(ServiceError) -> T {
        do {
            let result = try storing(body)
            audit(.operator(uid: operatorUID), action, .ok, target: nil, organization: nil, detail: detail(result))
            return result
        } catch {
            audit(.operator(uid: operatorUID), action, .failed, target: nil, organization: nil)
            throw error
        }
    }
}
