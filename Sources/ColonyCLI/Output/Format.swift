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
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
