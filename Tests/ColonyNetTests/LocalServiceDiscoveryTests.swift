import ColonyNet
import Testing

/// BEP 14 messages: what Colony sends is what the BEP describes, and what it reads is bounded and checked.
@Suite struct LocalServiceDiscoveryTests {
    let hash: [UInt8] = (0..<20).map { UInt8($0 * 13 % 256) }

    @Test func anAnnouncementRoundTripsInTheBEP14Format() throws {
        let announcement = LocalServiceDiscovery.Announcement(port: 7000, infoHashes: [hash], cookie: "c0ffee")
        let text = String(decoding: announcement.encoded, as: UTF8.self)
        #expect(text.hasPrefix("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 7000\r\nInfohash: 000d1a27"))
        #expect(text.hasSuffix("\r\n\r\n"))
        #expect(LocalServiceDiscovery.Announcement(decoding: announcement.encoded) == announcement)
        #expect(LocalServiceDiscovery.group.description == "239.192.152.143:6771")
    }

    @Test func otherClientsSpellingIsRead() throws {
        // Header names in any case, extra headers, no cookie, several info-hashes.
        let text = "BT-SEARCH * HTTP/1.1\r\nHOST: 239.192.152.143:6771\r\nport: 6881\r\nINFOHASH: "
            + hash.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined()
            + "\r\nX-Other: 1\r\nInfohash: " + String(repeating: "ab", count: 20) + "\r\n\r\n"
        let read = try #require(LocalServiceDiscovery.Announcement(decoding: Array(text.utf8)))
        #expect(read.port == 6881)
        #expect(read.infoHashes == [hash, [UInt8](repeating: 0xAB, count: 20)])
        #expect(read.cookie == nil)
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nPort: 1\r\nInfohash: " + String(repeating: "00", count: 20) + "\r\n\r\n",  // not BT-SEARCH
        "BT-SEARCH * HTTP/1.1\r\nInfohash: " + String(repeating: "00", count: 20) + "\r\n\r\n",  // no port
        "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: " + String(repeating: "00", count: 20) + "\r\n\r\n",  // port 0
        "BT-SEARCH * HTTP/1.1\r\nPort: 70000\r\nInfohash: " + String(repeating: "00", count: 20) + "\r\n\r\n",
        "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz" + String(repeating: "00", count: 19) + "\r\n\r\n",  // not hex
        "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: 00\r\n\r\n",  // too short
        "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + String(repeating: "00", count: 20) + String(repeating: " ", count: 1_400),
    ])
    func malformedMessagesAreIgnored(_ text: String) {
        #expect(LocalServiceDiscovery.Announcement(decoding: Array(text.utf8)) == nil)
    }
}
