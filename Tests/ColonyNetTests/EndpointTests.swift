import ColonyNet
import Testing

@Suite struct EndpointTests {
    @Test func parsesAndPrintsHostAndPort() throws {
        let endpoint = try #require(Endpoint("192.168.1.20:6881"))
        #expect(endpoint.address == 0xC0A8_0114)
        #expect(endpoint.description == "192.168.1.20:6881")
        #expect(Endpoint("localhost:1")?.host == "127.0.0.1")
        for bad in ["1.2.3:5", "1.2.3.4", "1.2.3.256:5", "a.b.c.d:5", "1.2.3.4:70000", "1..3.4:5", ":5"] {
            #expect(Endpoint(bad) == nil, "\(bad)")
        }
    }

    @Test func compactFormRoundTrips() throws {
        let endpoint = Endpoint(address: 0x0102_0304, port: 0xABCD)
        #expect(endpoint.compact == [1, 2, 3, 4, 0xAB, 0xCD])
        #expect(Endpoint(compact: endpoint.compact) == endpoint)
        #expect(Endpoint(compact: [1, 2, 3]) == nil)
    }

    @Test func localRanges() {
        for local in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.1", "169.254.1.1", "100.64.0.1"] {
            #expect(Endpoint(host: local, port: 1)!.isLocal, "\(local)")
        }
        for global in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "192.169.0.1", "124.31.75.21"] {
            #expect(!Endpoint(host: global, port: 1)!.isLocal, "\(global)")
        }
    }
}
