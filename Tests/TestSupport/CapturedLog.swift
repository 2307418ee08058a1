import Foundation
import Logging

/// A log handler that keeps the messages, to check what a store or service logged.
public final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []

    public init() {}

    public var lines: [String] { lock.withLock { messages } }

    public func append(_ line: String) { lock.withLock { messages.append(line) } }

    public var logger: Logger {
        Logger(label: "captured") { _ in Handler(log: self) }
    }

    public struct Handler: LogHandler {
        let log: CapturedLog
        public var metadata: Logger.Metadata = [:]
        public var logLevel: Logger.Level = .trace

        public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        public func log(event: LogEvent) {
            log.append("\(event.level) \(event.message) \(event.metadata ?? [:])")
        }
    }
}
