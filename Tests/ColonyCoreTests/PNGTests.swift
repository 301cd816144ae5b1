import ColonyCore
import ColonyTestSupport
import Foundation
import Testing

@Suite("PNG writer")
struct PNGTests {
    static let colorTypes: [PNGColorType] = [.rgb, .rgba, .gray, .grayAlpha]
    static let fixedFilters: [PNGFilter] = [.none, .sub, .up, .average, .paeth]

    /// Images of every color type, odd sizes and every filter; adaptive filtering really varies, so every filter's
    /// arithmetic goes past the real decoders below.
    @Test func everyFilterIsUsed() throws {
        let folder = try TemporaryFolder()
        #expect(try Self.grid(in: folder).filtersSeen == [0, 1, 2, 3, 4])
    }

    /// Rows appended in bands of varying height give the same bytes as the one-shot encoder.
    @Test func streamingWriterMatchesOneShot() throws {
        let folder = try TemporaryFolder()
        let image = try Self.banded(in: folder)
        let written = try Data(contentsOf: image.png)
        let pixels = try Data(contentsOf: image.pixels)
        #expect(written == (try PNGWriter.encode(width: image.width, height: image.height, colorType: .rgba, pixels: pixels)))
        #expect(try folder.leftovers() == ["banded.png"])
    }

    /// Incompressible pixels spread over many IDAT chunks, which a decoder must join.
    @Test func manyIDATChunks() throws {
        let folder = try TemporaryFolder()
        let image = try Self.noise(in: folder)
        #expect(try chunkTypes(of: try Data(contentsOf: image.png)).filter { $0 == "IDAT" }.count >= 10)
    }

    /// Pillow opens every sample image (grid, banded, many IDATs), verifies every chunk's CRC, and decodes exactly
    /// the pixels written.
    @Test(ExternalTool.pillow.gate) func pillowReadsExactPixels() throws {
        try ExternalTool.pillow.require()
        let folder = try TemporaryFolder()
        try checkWithPillow(try Self.samples(in: folder))
    }

    /// libpng's pngfix finds nothing to fix in any sample image: structure, zlib streams and checksums.
    @Test(ExternalTool.pngfix.gate) func pngfixAcceptsEveryImage() throws {
        try ExternalTool.pngfix.require()
        let folder = try TemporaryFolder()
        let pngfix = try #require(Probe.onPath("pngfix"))
        for image in try Self.samples(in: folder) {
            let result = try run(pngfix, [image.png.path])
            #expect(result.status == 0, "pngfix rejected \(image.png.lastPathComponent): \(result.output)")
        }
    }

    // MARK: Sample images

    /// Every sample image: the grid, the banded one and the one of many IDATs.
    private static func samples(in folder: TemporaryFolder) throws -> [DecodedImage] {
        try grid(in: folder).images + [banded(in: folder), noise(in: folder)]
    }

    /// Every color type at odd sizes in both patterns (adaptive filters), and each fixed filter; with the filter
    /// types the adaptive encoder chose.
    private static func grid(in folder: TemporaryFolder) throws -> (images: [DecodedImage], filtersSeen: Set<UInt8>) {
        var images: [DecodedImage] = []
        var filterTypesSeen = Set<UInt8>()
        for colorType in Self.colorTypes {
            for (width, height) in [(1, 1), (3, 5), (17, 9), (64, 33), (257, 3), (1, 300)] {
                for kind in Pattern.allCases {
                    let pixels = kind.pixels(width: width, height: height, colorType: colorType, seed: 3)
                    let png = try PNGWriter.encode(width: width, height: height, colorType: colorType, pixels: pixels)
                    filterTypesSeen.formUnion(try rowFilterTypes(of: png, height: height))
                    images.append(
                        try folder.save(png, pixels: pixels, width: width, height: height, colorType: colorType))
                }
            }
            for filter in Self.fixedFilters {
                let pixels = Pattern.smooth.pixels(width: 31, height: 17, colorType: colorType, seed: 5)
                let png = try PNGWriter.encode(
                    width: 31, height: 17, colorType: colorType, pixels: pixels, filter: filter)
                #expect(try Set(rowFilterTypes(of: png, height: 17)).count == 1, "filter \(filter)")
                images.append(try folder.save(png, pixels: pixels, width: 31, height: 17, colorType: colorType))
            }
        }
        return (images, filterTypesSeen)
    }

    /// An RGBA image written by the streaming writer in bands of varying height.
    private static func banded(in folder: TemporaryFolder) throws -> DecodedImage {
        let width = 300
        let height = 200
        let pixels = Pattern.smooth.pixels(width: width, height: height, colorType: .rgba, seed: 9)
        let url = folder.url.appendingPathComponent("banded.png")
        let writer = try PNGFileWriter(url: url, width: width, height: height, colorType: .rgba)
        #expect(writer.rowBytes == width * 4)
        var row = 0
        var band = 1
        while row < height {
            let count = min(band, height - row)
            let bytes = pixels[(row * writer.rowBytes)..<((row + count) * writer.rowBytes)]
            if count == 1 {
                try writer.append(row: bytes)
            } else {
                try writer.append(rows: bytes)
            }
            row += count
            band = band % 37 + 3
        }
        #expect(writer.rowsWritten == height)
        #expect(!FileManager.default.fileExists(atPath: url.path), "the file appeared before finish()")
        try writer.finish()
        return DecodedImage(png: url, pixels: try folder.saveRaw(pixels), width: width, height: height, mode: "RGBA")
    }

    /// Noise without filtering, written in eight bands: many IDAT chunks.
    private static func noise(in folder: TemporaryFolder) throws -> DecodedImage {
        let side = 512
        let pixels = Pattern.noise.pixels(width: side, height: side, colorType: .rgb, seed: 1)
        let url = folder.url.appendingPathComponent("noise.png")
        let writer = try PNGFileWriter(url: url, width: side, height: side, colorType: .rgb, filter: .none)
        for band in 0..<8 {
            let rows = side / 8
            try writer.append(rows: pixels[(band * rows * side * 3)..<((band + 1) * rows * side * 3)])
        }
        try writer.finish()
        return DecodedImage(png: url, pixels: try folder.saveRaw(pixels), width: side, height: side, mode: "RGB")
    }

    @Test func chunkLayout() throws {
        let png = try PNGWriter.encode(width: 2, height: 2, colorType: .rgb, pixels: [UInt8](repeating: 9, count: 12))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
        #expect(try chunkTypes(of: png) == ["IHDR", "IDAT", "IEND"])
        // IHDR: width 2, height 2, depth 8, color type 2, compression 0, filter 0, interlace 0.
        #expect(Array(png[16..<29]) == [0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0])
        // The IEND chunk is always the same 12 bytes, CRC included.
        #expect(Array(png.suffix(12)) == [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82])
    }

    @Test func badDimensionsAndPixelCounts() throws {
        let cases: [(Int, Int)] = [
            (0, 1), (1, 0), (-3, 4), (PNGWriter.maximumSide + 1, 1), (1, Int.max), (20_000, 20_000),
        ]
        for (width, height) in cases {
            #expect(throws: PNGError.self, "\(width)×\(height)") {
                try PNGWriter.encode(width: width, height: height, colorType: .rgb, pixels: Data())
            }
        }
        do {
            _ = try PNGWriter.encode(width: 0, height: 5, colorType: .rgb, pixels: Data())
            Issue.record("a zero width was accepted")
        } catch {
            #expect(error.code == .invalidDimensions)
            #expect(error.message.contains("width"))
        }
        do {
            _ = try PNGWriter.encode(width: 10, height: 7, colorType: .rgb, pixels: Data(count: 209))
            Issue.record("a short pixel buffer was accepted")
        } catch {
            #expect(error.code == .invalidPixelCount)
            #expect(error.message.contains("209") && error.message.contains("210"))
        }
        #expect(throws: PNGError.self) {
            try PNGWriter.encode(width: 2, height: 2, colorType: .rgba, pixels: Data(count: 17))
        }
        #expect(throws: PNGError.self) {
            try PNGWriter.encode(width: 2, height: 2, colorType: .rgb, pixels: Data(count: 12), compressionLevel: 11)
        }
    }

    @Test func streamingWriterRefusesWrongRows() throws {
        let folder = try TemporaryFolder()
        let url = folder.url.appendingPathComponent("rows.png")
        let writer = try PNGFileWriter(url: url, width: 4, height: 3, colorType: .rgb)
        do {
            try writer.append(row: Data(count: 11))
            Issue.record("a short row was accepted")
        } catch {
            #expect(error.code == .invalidPixelCount)
            #expect(error.message.contains("rows.png") && error.message.contains("11") && error.message.contains("12"))
        }
        #expect(throws: PNGError.self) { try writer.append(rows: Data(count: 13)) }
        #expect(throws: PNGError.self) { try writer.append(rows: Data(count: 48)) }
        try writer.append(rows: Data(count: 24))
        do {
            try writer.finish()
            Issue.record("an image with a missing row was finished")
        } catch {
            #expect(error.code == .wrongRowCount)
            #expect(error.message.contains("3") && error.message.contains("2"))
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
        try writer.append(row: Data(count: 12))
        #expect(throws: PNGError.self) { try writer.append(row: Data(count: 12)) }
        try writer.finish()
        #expect(throws: PNGError.self) { try writer.finish() }
        #expect(FileManager.default.fileExists(atPath: url.path))
    }

    /// A writer dropped before `finish()` leaves neither the file nor its temporary behind.
    @Test func abandonedWriterLeavesNothing() throws {
        let folder = try TemporaryFolder()
        do {
            let writer = try PNGFileWriter(
                url: folder.url.appendingPathComponent("never.png"), width: 8, height: 8, colorType: .gray)
            try writer.append(rows: Data(count: 32))
        }
        #expect(try folder.leftovers().isEmpty)
        #expect(throws: PNGError.self) {
            try PNGFileWriter(
                url: folder.url.appendingPathComponent("missing-folder/x.png"), width: 1, height: 1, colorType: .rgb)
        }
    }
}

// MARK: - Test images

/// Pixel patterns: noise defeats every filter; smooth gradients make each filter win somewhere.
private enum Pattern: CaseIterable {
    case noise
    case smooth

    func pixels(width: Int, height: Int, colorType: PNGColorType, seed: UInt64) -> Data {
        var random = SplitMix64(seed: seed)
        let channels = colorType.bytesPerPixel
        var raw = [UInt8](repeating: 0, count: width * height * channels)
        do {
            for y in 0..<height {
                for x in 0..<width {
                    for c in 0..<channels {
                        let value: Int
                        switch self {
                        case .noise:
                            value = Int(random.next() & 0xff)
                        case .smooth:
                            // Horizontal, vertical and diagonal ramps in different regions and channels.
                            let region = (x / 11 + y / 7 + c) % 4
                            switch region {
                            case 0: value = x * 3 + c * 40
                            case 1: value = y * 5 + c * 17
                            case 2: value = (x * y) / 3 + c
                            default: value = (x + y) * 2 + Int(random.next() % 3)
                            }
                        }
                        raw[(y * width + x) * channels + c] = UInt8(truncatingIfNeeded: value)
                    }
                }
            }
        }
        return Data(raw)
    }
}

// MARK: - Reading our own output

/// The chunk types of `png` in order, after checking the signature and each chunk's length.
private func chunkTypes(of png: Data) throws -> [String] {
    try chunks(of: png).map(\.type)
}

private func chunks(of png: Data) throws -> [(type: String, data: Data)] {
    let bytes = [UInt8](png)
    try #require(bytes.count >= 8 && bytes[0] == 0x89)
    var result: [(String, Data)] = []
    var offset = 8
    while offset < bytes.count {
        try #require(offset + 12 <= bytes.count)
        let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        try #require(offset + 12 + length <= bytes.count)
        let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
        result.append((type, Data(bytes[(offset + 8)..<(offset + 8 + length)])))
        offset += 12 + length
    }
    return result
}

/// The filter type byte of each row, read back by inflating the IDAT data.
private func rowFilterTypes(of png: Data, height: Int) throws -> [UInt8] {
    let chunks = try chunks(of: png)
    let header = try #require(chunks.first { $0.type == "IHDR" }?.data)
    let width = header.prefix(4).reduce(0) { $0 << 8 | Int($1) }
    let bytesPerPixel = [0: 1, 2: 3, 4: 2, 6: 4][Int(header[header.startIndex + 9])]!
    let compressed = chunks.filter { $0.type == "IDAT" }.reduce(Data()) { $0 + $1.data }
    let stride = width * bytesPerPixel + 1
    let raw = try Inflate.decompress(compressed, limit: stride * height)
    try #require(raw.count == stride * height)
    return (0..<height).map { raw[raw.startIndex + $0 * stride] }
}

// MARK: - The real decoder

private struct DecodedImage {
    var png: URL
    var pixels: URL
    var width: Int
    var height: Int
    var mode: String
}

/// A folder under the system's temporary folder, removed with everything in it when the test ends.
private final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("colony-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func save(_ png: Data, pixels: Data, width: Int, height: Int, colorType: PNGColorType) throws -> DecodedImage {
        let name = "\(colorType.name)-\(width)x\(height)-\(UUID().uuidString.prefix(8))".replacingOccurrences(
            of: "+", with: "_")
        let pngURL = url.appendingPathComponent(name + ".png")
        try png.write(to: pngURL)
        let modes = ["RGB": "RGB", "RGBA": "RGBA", "gray": "L", "gray+alpha": "LA"]
        return DecodedImage(
            png: pngURL, pixels: try saveRaw(pixels), width: width, height: height, mode: modes[colorType.name]!)
    }

    func saveRaw(_ pixels: Data) throws -> URL {
        let rawURL = url.appendingPathComponent("pixels-\(UUID().uuidString).raw")
        try pixels.write(to: rawURL)
        return rawURL
    }

    /// Names in the folder other than the expected-pixel files.
    func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).filter { !$0.hasSuffix(".raw") }.sorted()
    }
}

/// Pillow opens each file, verifies every chunk CRC, decodes, and compares mode, size and pixels.
private let pillowScript = """
    import sys
    from PIL import Image
    problems = []
    for line in open(sys.argv[1]):
        png, raw, mode, width, height = line.rstrip("\\n").split("\\t")
        try:
            with Image.open(png) as image:
                image.verify()
            with Image.open(png) as image:
                image.load()
                if image.mode != mode or image.size != (int(width), int(height)):
                    problems.append(f"{png}: {image.mode} {image.size}, expected {mode} ({width}, {height})")
                    continue
                decoded = image.tobytes()
            expected = open(raw, "rb").read()
            if decoded != expected:
                pairs = enumerate(zip(decoded, expected))
                first = next((i for i, (a, b) in pairs if a != b), min(len(decoded), len(expected)))
                sizes = f"{len(decoded)} decoded, {len(expected)} expected"
                problems.append(f"{png}: pixels differ from byte {first} ({sizes})")
        except Exception as error:
            problems.append(f"{png}: {type(error).__name__}: {error}")
    print("\\n".join(problems) if problems else "OK")
    """

private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

/// Checks `images` with Pillow: exact pixels, mode and size.
private func checkWithPillow(_ images: [DecodedImage]) throws {
    let manifest = images.map { "\($0.png.path)\t\($0.pixels.path)\t\($0.mode)\t\($0.width)\t\($0.height)" }
    let manifestURL = images[0].png.deletingLastPathComponent().appendingPathComponent("manifest-\(UUID()).tsv")
    try (manifest.joined(separator: "\n") + "\n").write(to: manifestURL, atomically: true, encoding: .utf8)
    let result = try run("/usr/bin/python3", ["-c", pillowScript, manifestURL.path])
    #expect(
        result.status == 0 && result.output.trimmingCharacters(in: .whitespacesAndNewlines) == "OK",
        "Pillow: \(result.output)")
}
