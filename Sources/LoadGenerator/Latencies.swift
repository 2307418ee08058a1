/// Latencies in microseconds, kept whole so percentiles are exact (a run of a few hundred thousand
/// requests is a few megabytes; no histogram library needed).
public struct Latencies: Sendable {
    private(set) var samples: [UInt32] = []
    private var sorted = true

    public init() {}

    mutating func record(nanoseconds: UInt64) {
        samples.append(UInt32(clamping: nanoseconds / 1000))
        sorted = false
    }

    mutating func merge(_ other: Latencies) {
        samples.append(contentsOf: other.samples)
        sorted = false
    }

    public var count: Int { samples.count }

    /// The nearest-rank percentile (`fraction` 0.5 for p50, 0.999 for p99.9), or 0 with no samples.
    public mutating func percentile(_ fraction: Double) -> UInt32 {
        guard !samples.isEmpty else { return 0 }
        if !sorted {
            samples.sort()
            sorted = true
        }
        let rank = Int((fraction * Double(samples.count)).rounded(.up))
        return samples[min(max(rank, 1), samples.count) - 1]
    }
}
