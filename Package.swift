// swift-tools-version: 6.0
import PackageDescription

// Colony: volunteer computing on a Kademlia DHT. Layers point down only (see DESIGN.md):
// colony → ColonyCLI → ColonyWork → ColonyCore / ColonyKernel → CZlib, CCrypto.
// No package dependencies: only the toolchain, zlib and libcrypto.

let exampleKernels: [(target: String, folder: String, extra: [Target.Dependency])] = [
    ("MersenneKernel", "Mersenne", []),
    ("PrimesKernel", "Primes", []),
    ("MandelbrotKernel", "Mandelbrot", ["ColonyCore"]),
    ("CollatzKernel", "Collatz", []),
    ("MonteCarloPiKernel", "MonteCarloPi", []),
]

let package = Package(
    name: "Colony",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "colony", targets: ["colony"]),
        .library(name: "ColonyKernel", targets: ["ColonyKernel"]),
        .library(name: "ColonyCore", targets: ["ColonyCore"]),
        .library(name: "ColonyNet", targets: ["ColonyNet"]),
        .library(name: "ColonyDHT", targets: ["ColonyDHT"]),
        .library(name: "ColonyBlobs", targets: ["ColonyBlobs"]),
        .library(name: "ColonyWork", targets: ["ColonyWork"]),
        .library(name: "Colony", targets: ["Colony"]),
        .library(name: "ColonyCLI", targets: ["ColonyCLI"]),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl"])]
        ),
        // pipe2 and prctl for kernel hosts (ColonyWork/Isolation): glibc has them, Swift's Glibc module hides them.
        .systemLibrary(name: "CProcess"),
        .target(name: "ColonyKernel"),
        .target(name: "ColonyCore", dependencies: ["CZlib", "CCrypto"]),
        .target(name: "ColonyNet", dependencies: ["ColonyCore"]),
        .target(name: "ColonyDHT", dependencies: ["ColonyCore", "ColonyNet"]),
        .target(name: "ColonyBlobs", dependencies: ["ColonyCore", "ColonyNet", "ColonyDHT"]),
        .target(name: "ColonyWork", dependencies: ["ColonyKernel", "ColonyCore", "ColonyNet", "CProcess"]),
        .target(name: "Colony", dependencies: ["ColonyKernel", "ColonyCore", "ColonyWork", "ColonyNet", "ColonyDHT", "ColonyBlobs"]),
        .target(
            name: "ColonyCLI",
            dependencies: ["ColonyKernel", "ColonyCore", "ColonyWork", "ColonyNet", "ColonyDHT", "ColonyBlobs", "Colony"]),
        .executableTarget(
            name: "colony",
            dependencies: ["ColonyCLI"] + exampleKernels.map { .target(name: $0.target) }
        ),
        // What tests share: the gate on tools a fresh machine may lack (README, Tests).
        .target(name: "ColonyTestSupport", path: "Tests/ColonyTestSupport"),
        .testTarget(name: "ColonyKernelTests", dependencies: ["ColonyKernel"]),
        .testTarget(name: "ColonyCoreTests", dependencies: ["ColonyCore", "ColonyTestSupport"]),
        .testTarget(name: "ColonyNetTests", dependencies: ["ColonyNet", "ColonyCore", "ColonyTestSupport"]),
        .testTarget(name: "ColonyDHTTests", dependencies: ["ColonyDHT", "ColonyNet", "ColonyCore"]),
        .testTarget(name: "ColonyBlobsTests", dependencies: ["ColonyBlobs", "ColonyNet", "ColonyCore"]),
        .testTarget(name: "ColonyWorkTests", dependencies: ["ColonyWork", "ColonyKernel", "ColonyCore", "ColonyNet"]),
        .testTarget(
            name: "ColonyTests",
            dependencies: [
                "Colony", "ColonyWork", "ColonyKernel", "ColonyCore", "ColonyNet", "ColonyBlobs", "ColonyDHT", "SquaresKernel",
                "ColonyTestSupport",
            ]),
        .testTarget(
            name: "ColonyCLITests",
            dependencies: ["ColonyCLI", "ColonyWork", "ColonyTestSupport"] + exampleKernels.map { .target(name: $0.target) }
        ),
        .testTarget(
            name: "ExampleKernelTests",
            dependencies: ["ColonyKernel", "ColonyCore", "ColonyTestSupport", "SquaresKernel"] + exampleKernels.map { .target(name: $0.target) }
        ),
        // A kernel author's own worker (README: Writing a kernel).
        .target(name: "SquaresKernel", dependencies: ["ColonyKernel"], path: "Examples/CustomWorker/SquaresKernel"),
        .executableTarget(
            name: "custom-worker", dependencies: ["ColonyCLI", "SquaresKernel"], path: "Examples/CustomWorker/Worker"),
    ]
        + exampleKernels.map { kernel in
            .target(
                name: kernel.target,
                dependencies: ["ColonyKernel"] + kernel.extra,
                path: "Examples/\(kernel.folder)",
                exclude: ["README.md"]
            )
        },
    swiftLanguageModes: [.v6]
)
