import Glibc

/// Runs `body` on a new POSIX thread. Blocking socket code must not run on Swift's
/// cooperative pool, which has one thread per core here.
public func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let result = pthread_create(
        &thread,
        nil,
        { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        },
        box
    )
    precondition(result == 0, "pthread_create failed")
    return thread
}
