import ColonyKernel
import Foundation
import Testing

@Suite struct KernelPreviewTests {
    /// A picture whose pixel (x, y) is (x, y, 7).
    static func gradient(width: Int, height: Int) -> KernelPreview {
        var rgb = Data()
        for y in 0..<height {
            for x in 0..<width { rgb += [UInt8(x), UInt8(y), 7] }
        }
        return KernelPreview(width: width, height: height, rgb: rgb)
    }

    @Test func aPictureThatFitsIsKeptAsItIs() {
        let picture = Self.gradient(width: 30, height: 20)
        #expect(picture.shrunk(toFit: 30) == picture)
        #expect(picture.shrunk(toFit: 1000) == picture)
    }

    @Test func aLargerPictureKeepsTheTopLeftPixelOfEachSquare() {
        // 70 × 50 into 30: a factor of 3 (2 would leave 35), giving 24 × 17.
        let shrunk = Self.gradient(width: 70, height: 50).shrunk(toFit: 30)
        #expect(shrunk.width == 24 && shrunk.height == 17)
        #expect(shrunk.rgb.count == 24 * 17 * 3)
        for (y, x) in [(0, 0), (0, 23), (16, 0), (16, 23), (5, 9)] {
            let at = (y * 24 + x) * 3
            #expect(Array(shrunk.rgb[at..<at + 3]) == [UInt8(3 * x), UInt8(3 * y), 7], "pixel (\(x), \(y))")
        }
    }

    @Test func pendingIsGreyEverywhere() {
        let pending = KernelPreview.pending(width: 5, height: 4)
        #expect(pending.rgb == Data(repeating: 128, count: 5 * 4 * 3))
    }
}
