import Foundation

/// A span of the week when kernels may run: `{"days": "mon-fri", "from": "18:00", "to": "08:00"}`.
///
/// `to` before `from` crosses midnight: the window above runs from Monday 18:00 to Tuesday 08:00, and so on to
/// Friday 18:00 – Saturday 08:00.
public struct TimeWindow: Sendable, Equatable {
    /// The days as written: names (`mon` … `sun`), ranges (`mon-fri`) and lists (`sat,sun`), or `all`.
    public var days: String
    /// The start, `HH:MM`.
    public var from: String
    /// The end, `HH:MM`.
    public var to: String

    /// Day names in the order of a week starting on Monday.
    public static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// A window from its fields, or nil when a field is not in its form.
    public init?(days: String, from: String, to: String) {
        guard Self.weekdays(days) != nil, Self.minutes(from) != nil, Self.minutes(to) != nil else { return nil }
        self.days = days
        self.from = from
        self.to = to
    }

    /// The days a `days` text names, 0 for Monday; nil when it is not in the form.
    public static func weekdays(_ text: String) -> Set<Int>? {
        let trimmed = text.lowercased().trimmingCharacters(in: .whitespaces)
        if trimmed == "all" { return Set(0..<7) }
        var days = Set<Int>()
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false).map {
                dayNames.firstIndex(of: $0.trimmingCharacters(in: .whitespaces))
            }
            switch ends.count {
            case 1:
                guard let day = ends[0] else { return nil }
                days.insert(day)
            case 2:
                guard let first = ends[0], let last = ends[1] else { return nil }
                // A range may wrap past Sunday: `fri-mon`.
                var day = first
                while true {
                    days.insert(day)
                    if day == last { break }
                    day = (day + 1) % 7
                }
            default: return nil
            }
        }
        return days
    }

    /// Minutes after midnight of an `HH:MM` text; nil when it is not one.
    public static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hours = Int(parts[0]),
            let minutes = Int(parts[1]),
            (0..<24).contains(hours), (0..<60).contains(minutes)
        else { return nil }
        return hours * 60 + minutes
    }

    /// Whether `date` falls in this window, read in `calendar`'s time zone. `from` equal to `to` is the whole day.
    public func contains(_ date: Date, calendar: Calendar) -> Bool {
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        // Calendar weekdays run from 1 (Sunday); here 0 is Monday.
        let day = ((parts.weekday ?? 1) + 5) % 7
        return contains(weekday: day, minute: (parts.hour ?? 0) * 60 + (parts.minute ?? 0))
    }

    /// Whether minute `minute` (after midnight) of weekday `weekday` (0 for Monday) falls in this window.
    public func contains(weekday: Int, minute: Int) -> Bool {
        guard let days = Self.weekdays(days), let start = Self.minutes(from), let end = Self.minutes(to) else {
            return false
        }
        if start == end { return days.contains(weekday) }
        if start < end { return days.contains(weekday) && (start..<end).contains(minute) }
        // Across midnight: the evening of a listed day, or the morning after one.
        return (days.contains(weekday) && minute >= start) || (days.contains((weekday + 6) % 7) && minute < end)
    }
}
