import ColonyBlobs
import Testing

@Suite struct ColonyBlobsModuleTests {
    @Test func moduleLinks() {
        #expect(String(describing: ColonyBlobs.self) == "ColonyBlobs")
    }
}
