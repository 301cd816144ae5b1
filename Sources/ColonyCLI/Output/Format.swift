import Foundation

/// Number and time formats shared by the commands' human output.
enum Format {
    /// `0:08`, `12:34`, `1:02:03`.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let total = Int(seconds.rounded(.up))
        let (hours, minutes, secs) = (total / 3600, (total / 60) % 60, total % 60)
        let twoDigits = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" : "\(minutes):\(twoDigits(secs))"
    }

    /// Three significant figures: `0.812`, `12.3`, `456`.
    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        if value >= 100 { return String(Int(value.rounded())) }
        if value >= 10 { return String(format: "%.1f", value) }
        if value >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3f", value)
    }

    /// Seconds with three decimals: `21.437`.
    static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    /// A ratio with three decimals: `0.987`.
    static func ratio(_ value: Double) -> String { String(format: "%.3f", value) }

    /// `[########············]` for `fraction` (0…1) of `width` cells.
    static func bar(_ fraction: Double, width: Int = 20) -> String {
        let filled = min(width, max(0, Int((fraction * Double(width)).rounded(.down))))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "·", count: width - filled) + "]"
    }

    /// Bytes in MiB with one decimal: `95.4 MiB`.
    static func mebibytes(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    /// A byte count written `256MiB`, `1GiB`, `64KiB` or `1048576`; the error names `option`.
    static func byteSize(_ text: String, option: String) throws -> Int {
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let number = Int(text.dropLast(suffix.count)), number > 0, number <= (64 << 30) / scale {
                return number * scale
            }
            break
        }
        throw InputError("\(option) '\(text)' is not a size like 256MiB, 1GiB or 1048576")
    }

    /// The local date and time with its UTC offset (`2026-12-03 11:40:02.153 +0100`), for text log lines: a line
    /// read days later, or next to another host's, says when it happened. Not DateFormatter: it loads ICU's
    /// data, which costs an idle node several MiB.
    static func localTimestamp() -> String {
        let (parts, milliseconds) = now(localtime_r)
        let offset = parts.tm_gmtoff / 60
        return stamp(parts, milliseconds, separator: " ")
            + (offset < 0 ? " -" : " +") + String(format: "%02d%02d", Int32(abs(offset) / 60), Int32(abs(offset) % 60))
    }

    /// The current time as ISO 8601 UTC with milliseconds (`2026-11-21T22:24:25.153Z`), for JSON events.
    static func utcTimestampMilliseconds() -> String {
        let (parts, milliseconds) = now(gmtime_r)
        return stamp(parts, milliseconds, separator: "T") + "Z"
    }

    /// The current time as ISO 8601 UTC to the second (`2026-11-21T22:24:25Z`).
    static func utcTimestamp() -> String {
        let (parts, _) = now(gmtime_r)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// The current time broken down by `breakDown` (`localtime_r` or `gmtime_r`), with its milliseconds.
    private static func now(
        _ breakDown: (UnsafePointer<time_t>, UnsafeMutablePointer<tm>) -> UnsafeMutablePointer<tm>?
    ) -> (tm, Int32) {
        var clock = timeval()
        gettimeofday(&clock, nil)
        var seconds = clock.tv_sec
        var parts = tm()
        _ = breakDown(&seconds, &parts)
        return (parts, Int32(clock.tv_usec / 1000))
    }

    /// "YYYY-MM-DD" `separator` "HH:MM:SS.mmm".
    private static func stamp(_ parts: tm, _ milliseconds: Int32, separator: String) -> String {
        String(format: "%04d-%02d-%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday) + separator
            + String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, milliseconds)
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
