/// A set that remembers at most `limit` elements, forgetting the oldest inserted first: what a long-lived worker
/// remembers of the jobs it finished or ignored, so that anyone announcing job after job cannot grow it for good.
struct RecentIDs<Element: Hashable> {
    let limit: Int
    private var members: Set<Element> = []
    /// Insertion order; the first `start` entries are forgotten already (removed in batches).
    private var order: [Element] = []
    private var start = 0

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    var count: Int { members.count }

    func contains(_ element: Element) -> Bool { members.contains(element) }

    mutating func insert(_ element: Element) {
        guard members.insert(element).inserted else { return }
        order.append(element)
        while members.count > limit {
            members.remove(order[start])
            start += 1
        }
        // Compacted once the forgotten part is as long as the rest: amortized O(1) an insertion.
        if start > limit {
            order.removeFirst(start)
            start = 0
        }
    }

    var elements: Set<Element> { members }

    /// Forgets every element of `elements`. Their places in the order stay until their turn comes, so one inserted
    /// again may be forgotten a little early.
    mutating func subtract(_ elements: some Sequence<Element>) {
        for element in elements { members.remove(element) }
    }

    mutating func removeAll() {
        members = []
        order = []
        start = 0
    }
}
