import Glibc

/// Times as `twofactorctl` shows and reads them: UTC, `2026-11-29 08:15:36 UTC`.
enum TimeText {
    static func format(_ unixTime: UInt64) -> String {
        var time = time_t(clamping: unixTime)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return "\(unixTime)" }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }

    /// A time as Unix seconds, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` (UTC), or an age such as `90m`, `12h`, `7d`.
    static func parse(_ text: String, now: Int64 = Int64(time(nil))) -> Int64? {
        if let seconds = Int64(text), seconds >= 0 { return seconds }
        if let unit = text.last, let count = Int64(text.dropLast()), count >= 0 {
            let scale: Int64? =
                switch unit {
                case "s": 1
                case "m": 60
                case "h": 3600
                case "d": 86_400
                default: nil
                }
            if let scale { return now - count * scale }
        }
        let fields = text.split(whereSeparator: { "-T:".contains($0) }).map { Int32($0) }
        guard fields.count == 3 || fields.count == 6, !fields.contains(nil) else { return nil }
        let numbers = fields.map { $0! }
        var parts = tm()
        parts.tm_year = numbers[0] - 1900
        parts.tm_mon = numbers[1] - 1
        parts.tm_mday = numbers[2]
        if numbers.count == 6 {
            parts.tm_hour = numbers[3]
            parts.tm_min = numbers[4]
            parts.tm_sec = numbers[5]
        }
        guard (1...12).contains(numbers[1]), (1...31).contains(numbers[2]) else { return nil }
        let result = timegm(&parts)
        return result < 0 ? nil : Int64(result)
    }
}

/// Columns padded to their widest cell, two spaces apart.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }.joined() + "\n"
        }.joined()
    }
}
