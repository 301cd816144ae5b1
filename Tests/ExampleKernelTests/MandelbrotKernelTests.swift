import ColonyKernel
import ColonyTestSupport
import Foundation
import MandelbrotKernel
import Testing

@Suite struct MandelbrotKernelTests {
    let small: [String: JSONValue] = ["width": 96, "height": 64, "maxIterations": 200, "rowsPerUnit": 10]

    /// The plain escape-time loop, without the cardioid, bulb and periodicity shortcuts.
    func plainCount(x: Double, y: Double, limit: Int) -> Int {
        var zx = 0.0
        var zy = 0.0
        for iteration in 0..<limit {
            let next = zx * zx - zy * zy + x
            zy = 2 * zx * zy + y
            zx = next
            if zx * zx + zy * zy > 4 { return iteration }
        }
        return limit
    }

    func counts(of output: Data) throws -> [Int] {
        struct Band: Decodable { var counts: Data }
        let band = try JSONDecoder().decode(Band.self, from: output)
        let raw = try Inflate.decompress(band.counts, limit: 1 << 24)
        return raw.withUnsafeBytes { bytes in
            (0..<raw.count / 2).map { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        }
    }

    @Test func shortcutsAgreeWithThePlainLoop() throws {
        let kernel = MandelbrotKernel()
        let units = try kernel.units(for: KernelParameters(small))
        #expect(units.count == 7)
        var row = 0
        var differing = 0
        var total = 0
        for (index, unit) in units.enumerated() {
            let got = try counts(of: kernel.run(unit, context: KernelContext(unit: index)))
            let rows = got.count / 96
            for r in 0..<rows {
                for column in 0..<96 {
                    let x = -0.75 + (Double(column) - 48 + 0.5) * (3.0 / 96)
                    let y = 0 - (Double(row + r) - 32 + 0.5) * (3.0 / 96)
                    if got[r * 96 + column] != plainCount(x: x, y: y, limit: 200) { differing += 1 }
                    total += 1
                }
            }
            row += rows
        }
        #expect(total == 96 * 64)
        #expect(differing == 0)
    }

    @Test(ExternalTool.pillow.gate) func assemblesAPNGThatPillowOpens() throws {
        try ExternalTool.pillow.require()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-mandel-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let kernel = MandelbrotKernel()
        let parameters = KernelParameters(small)
        let outputs = try kernel.units(for: parameters).enumerated().map { try kernel.run($1, context: KernelContext(unit: $0)) }
        let summary = try kernel.assemble(outputs, parameters: parameters, into: folder)
        let file = try #require(summary.files.first)
        #expect(summary.values["width"] == 96)
        #expect(summary.values["height"] == 64)
        // The centre of the default view, (-0.75, 0), lies in the set: black.
        let pixel = try decodePixel(file, x: 48, y: 32)
        #expect(pixel == [0, 0, 0])
        let corner = try decodePixel(file, x: 0, y: 0)
        #expect(corner != [0, 0, 0])
    }

    /// Reads one pixel with Pillow.
    func decodePixel(_ file: URL, x: Int, y: Int) throws -> [Int] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c", "import sys; from PIL import Image; im = Image.open(sys.argv[1]); print(*im.convert('RGB').getpixel((\(x), \(y))))",
            file.path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "Pillow could not read \(file.lastPathComponent): \(text)")
        return text.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    @Test func equivalenceToleratesAFewBoundaryPixelsOnly() throws {
        let kernel = MandelbrotKernel()
        let unit = try kernel.units(for: KernelParameters(small))[3]
        let output = try kernel.run(unit, context: KernelContext(unit: 3))
        #expect(kernel.equivalent(output, output))
        var counts = try counts(of: output)
        struct Band: Codable { var firstRow: Int; var rows: Int; var width: Int; var counts: Data }
        var band = try JSONDecoder().decode(Band.self, from: output)
        func reencode(_ counts: [Int]) throws -> Data {
            var raw = Data()
            for count in counts { withUnsafeBytes(of: UInt16(count).littleEndian) { raw.append(contentsOf: $0) } }
            band.counts = try Deflate.compress(raw)
            return KernelCoding.encode(band)
        }
        counts[5] += 1
        #expect(kernel.equivalent(output, try reencode(counts)), "one pixel in 960 differs")
        for index in 0..<10 { counts[index * 7] += 1 }
        #expect(!kernel.equivalent(output, try reencode(counts)), "ten pixels in 960 differ")
        #expect(!kernel.equivalent(output, Data("junk".utf8)))
    }

    @Test func anInterruptedUnitGivesTheSameOutput() throws {
        let kernel = MandelbrotKernel()
        let unit = try kernel.units(for: KernelParameters(small))[2]
        let whole = try kernel.run(unit, context: KernelContext(unit: 0))
        let (resumed, interruptions) = try KernelHarness.runInterrupted(kernel, unit, every: 1)
        #expect(interruptions >= 3)
        #expect(resumed == whole)
    }

    @Test(arguments: [
        (["width": 8] as [String: JSONValue], "width"), (["width": 32_768, "height": 32_768], "height"),
        (["span": 0], "span"), (["maxIterations": 100_000], "maxIterations"), (["centerX": "left"], "centerX"),
    ])
    func badParametersNameTheField(parameters: [String: JSONValue], field: String) {
        let error = #expect(throws: KernelParameterError.self) { try MandelbrotKernel().units(for: KernelParameters(parameters)) }
        #expect(error?.field == field)
    }
}

import ColonyCore
