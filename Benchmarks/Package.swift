// swift-tools-version:6.1
// Fluxgate benchmarks: package-benchmark micro-benchmarks (`swift package benchmark`) and load
// harnesses that measure Fluxgate against its peers (kcat, mosquitto_sub, python-socketio, ...)
// in the same run. Run from this folder; see docs/benchmarks.md.
import PackageDescription

let package = Package(
    name: "fluxgate-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "fluxgate", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // Load harnesses: one executable per area, each prints a table with ratios to its peer.
        .executableTarget(
            name: "LoadHarness",
            dependencies: [
                .product(name: "Kafka", package: "fluxgate"),
                .product(name: "MQTT", package: "fluxgate"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/LoadHarness"
        ),
    ]
)
