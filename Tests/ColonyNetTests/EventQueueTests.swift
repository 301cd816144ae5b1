import Testing

@testable import ColonyNet

@Suite struct EventQueueTests {
    @Test func popsInTimeThenSchedulingOrder() {
        var random = SeededGenerator(seed: 4)
        var queue = EventQueue()
        var expected: [SimulatedEvent] = []
        for sequence in UInt64(0)..<5000 {
            // Few distinct times, so that many events tie and the sequence decides.
            let time = Int64(random.next(upperBound: UInt64(50)))
            let event: SimulatedEvent =
                sequence % 3 == 0
                ? .timer(at: time, sequence: sequence, node: Int(sequence % 977))
                : .delivery(at: time, sequence: sequence, slot: Int(sequence))
            queue.push(event)
            expected.append(event)
            // Interleave pops with pushes, as a simulation does.
            if sequence % 7 == 0, let popped = queue.pop() {
                let index = expected.indices.min { expected[$0].precedes(expected[$1]) }!
                #expect(popped.tag == expected[index].tag)
                expected.remove(at: index)
            }
        }
        expected.sort { $0.precedes($1) }
        var popped: [SimulatedEvent] = []
        while let event = queue.pop() { popped.append(event) }
        #expect(popped.map(\.time) == expected.map(\.time))
        #expect(popped.map(\.tag) == expected.map(\.tag))
        #expect(queue.isEmpty)
    }

    @Test func eventsCarryTheirKindAndReference() {
        let timer = SimulatedEvent.timer(at: 5, sequence: 9, node: SimulatedEvent.maximumReference)
        #expect(timer.isTimer && timer.reference == SimulatedEvent.maximumReference)
        let delivery = SimulatedEvent.delivery(at: 5, sequence: 10, slot: 12)
        #expect(!delivery.isTimer && delivery.reference == 12)
        #expect(timer.precedes(delivery))
    }

    @Test func endpointTableFindsWhatWasStored() {
        var table = EndpointTable()
        for index in 0..<20_000 {
            table.set(index, for: Endpoint(address: UInt32(index * 7919), port: UInt16(index % 3)))
        }
        #expect(table.count == 20_000)
        for index in 0..<20_000 {
            #expect(table[Endpoint(address: UInt32(index * 7919), port: UInt16(index % 3))] == index)
        }
        #expect(table[Endpoint(address: 1, port: 0)] == nil)
        #expect(table[Endpoint(address: 0, port: 1)] == nil)
        table.set(5, for: Endpoint(address: 0, port: 0))
        #expect(table[Endpoint(address: 0, port: 0)] == 5)
        #expect(table.count == 20_000)
    }
}
