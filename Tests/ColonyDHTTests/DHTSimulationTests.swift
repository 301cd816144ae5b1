import ColonyDHT
import Testing

@Suite struct DHTSimulationTests {
    @Test func lookupsFindTheTrueClosestBeforeAndAfterDeaths() {
        var parameters = DHTSimulation.Parameters()
        parameters.nodes = 500
        parameters.lookups = 200
        parameters.items = 20
        parameters.deadFraction = 0.3
        parameters.seed = 42
        let report = DHTSimulation(parameters).run()
        #expect(report.joined == 499)
        #expect(report.healthy.count == 200)
        #expect(report.healthy.exact >= 199)
        let after = report.afterDeaths
        #expect(after?.count == 200)
        #expect((after?.exact ?? 0) >= 198)
        #expect(after?.liveOnly == 200)
        #expect(report.dead == 150)
        #expect(report.itemsStored == 20)
        #expect(report.itemsFound == 20)
        #expect(report.datagrams.toDead > 0)
    }
}
