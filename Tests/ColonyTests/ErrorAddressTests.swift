@testable import Colony
import ColonyCore
import ColonyNet
import Foundation
import Testing

/// Issue 12: error lines repeated the address three times ("forward to A: A: TCP frames with A: …").
@Suite struct ErrorAddressTests {
    @Test func aFailedRequestNamesItsPeerOnce() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-address-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let peer = try ColonyPeer(dataDirectory: folder)
        try peer.start()
        defer { peer.stop(handOff: false) }
        // Port 9 on loopback: nothing listens there.
        let nobody = Endpoint(address: 0x7F00_0001, port: 9)
        let frame = CustodyWire.frame("co_jobs", [])
        do {
            _ = try peer.request(frame, to: nobody, timeout: 2)
            Issue.record("a request to a closed port was answered")
        } catch {
            let text = "\(error)"
            #expect(text.components(separatedBy: "127.0.0.1:9").count - 1 == 1, "\(text)")
            #expect(text.contains("cannot connect"), "\(text)")
        }
    }
}
