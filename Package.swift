// swift-tools-version:6.1
// Fluxgate: MQTT in, Kafka in the middle, windows and alerts, Socket.IO out.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// MARK: - Dependencies (only versions that exist in the offline package store)

let dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
    .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
]

let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let nioLocks: Target.Dependency = .product(name: "NIOConcurrencyHelpers", package: "swift-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let metrics: Target.Dependency = .product(name: "Metrics", package: "swift-metrics")
let lifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let unixSignals: Target.Dependency = .product(name: "UnixSignals", package: "swift-service-lifecycle")
let collections: Target.Dependency = .product(name: "DequeModule", package: "swift-collections")
let asyncAlgorithms: Target.Dependency = .product(name: "AsyncAlgorithms", package: "swift-async-algorithms")
let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let hummingbird: Target.Dependency = .product(name: "Hummingbird", package: "hummingbird")
let hummingbirdWebSocket: Target.Dependency = .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket")
let hummingbirdWSCompression: Target.Dependency = .product(name: "HummingbirdWSCompression", package: "hummingbird-websocket")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

// MARK: - Targets, in pipeline order

var targets: [Target] = [
    // C libraries from Debian: librdkafka-dev, libmosquitto-dev, zlib1g-dev.
    .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
    .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

    // I/O libraries with no telemetry knowledge.
    .target(
        name: "MQTT",
        dependencies: ["CMosquitto", nioLocks, logging, lifecycle, collections],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "Kafka",
        dependencies: ["CRdKafka", nioLocks, logging, lifecycle, collections],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "SocketIO",
        dependencies: [
            "CZlib", nioCore, nioLocks, logging, collections, hummingbird, hummingbirdWebSocket,
            hummingbirdWSCompression, nioPosix, .product(name: "NIOWebSocket", package: "swift-nio"), lifecycle,
        ],
        swiftSettings: swiftSettings
    ),

    // Prometheus metrics, health and readiness, shared by every stage.
    .target(
        name: "Observability",
        dependencies: [nioLocks, metrics, prometheus, hummingbird, logging],
        swiftSettings: swiftSettings
    ),

    // The pure domain: readings, codecs, validation, windows, statistics, alert rules.
    .target(name: "Telemetry", dependencies: [yams], swiftSettings: swiftSettings),

    // The stages.
    .target(
        name: "Ingress",
        dependencies: ["Telemetry", "MQTT", "Kafka", logging, metrics, lifecycle],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "Windowing",
        dependencies: ["Telemetry", "Kafka", logging, metrics, lifecycle, asyncAlgorithms, collections],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "Hub",
        dependencies: [
            "Telemetry", "Kafka", "SocketIO", "Observability", logging, metrics, lifecycle, hummingbird,
            hummingbirdWebSocket, nioLocks,
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "Simulator",
        dependencies: ["MQTT", yams, logging, lifecycle],
        swiftSettings: swiftSettings
    ),

    // Executables.
    // The command line: subcommands, layered configuration (flag > environment > file > default).
    .target(
        name: "FluxgateCLI",
        dependencies: [
            "Kafka", "MQTT", "Telemetry", "Ingress", "Windowing", "Hub", "Simulator", "Observability", logging, metrics, prometheus, lifecycle,
            unixSignals, argumentParser, yams,
        ],
        swiftSettings: swiftSettings
    ),
    .executableTarget(name: "fluxgate", dependencies: ["FluxgateCLI"], swiftSettings: swiftSettings),
    .executableTarget(
        name: "socketio-conformance",
        dependencies: ["SocketIO", hummingbird, hummingbirdWebSocket, logging, lifecycle],
        swiftSettings: swiftSettings
    ),
    // Test helper for MQTTTests: a subscriber process that the deferred-acknowledgement test kills.
    .executableTarget(
        name: "mqtt-test-subscriber",
        dependencies: ["MQTT", logging, lifecycle],
        swiftSettings: swiftSettings
    ),

    // Test support: real mosquitto brokers and dev Kafka clusters on free loopback ports.
    .target(
        name: "FluxgateTesting",
        dependencies: ["Kafka", logging, lifecycle],
        swiftSettings: swiftSettings
    ),

    // Tests mirror Sources.
    .testTarget(name: "KafkaTests", dependencies: ["Kafka", "FluxgateTesting"], swiftSettings: swiftSettings),
    // MQTTTests runs the mqtt-test-subscriber executable; the dependency makes sure it is built.
    .testTarget(
        name: "MQTTTests",
        dependencies: ["MQTT", "FluxgateTesting", "mqtt-test-subscriber", logging],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "SocketIOTests",
        dependencies: ["SocketIO", "FluxgateTesting", hummingbird, hummingbirdWebSocket, nioCore, nioPosix],
        exclude: ["Clients"],
        swiftSettings: swiftSettings
    ),
    .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"], swiftSettings: swiftSettings),
    .testTarget(
        name: "HubTests",
        dependencies: [
            "Hub", "FluxgateTesting", "Kafka", "SocketIO", "Telemetry", "Observability", logging, lifecycle,
            prometheus,
        ],
        exclude: ["Clients"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ObservabilityTests",
        dependencies: ["Observability", .product(name: "HummingbirdTesting", package: "hummingbird")],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "IngressTests",
        dependencies: ["Ingress", "FluxgateTesting", "Kafka", "MQTT", "Telemetry", nioLocks, lifecycle],
        swiftSettings: swiftSettings
    ),
    // Telemetry only in the tests: simulated payloads through the real decoder and alert rules.
    .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "Telemetry"], swiftSettings: swiftSettings),
    .testTarget(
        name: "FluxgateCLITests",
        dependencies: ["FluxgateCLI", "FluxgateTesting", "MQTT", "Simulator", "Kafka", "Ingress", "Telemetry", "fluxgate", logging, lifecycle],
        exclude: ["Commands/Browser"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "WindowingTests",
        // Runs the fluxgate executable (the SIGKILL test); the dependency makes sure it is built.
        dependencies: ["Windowing", "FluxgateTesting", "Kafka", "Telemetry", "fluxgate", logging, lifecycle],
        swiftSettings: swiftSettings
    ),
    // End to end through the running processes: mosquitto -> ingress -> Kafka -> windowing -> hub.
    .testTarget(
        name: "PipelineTests",
        dependencies: ["FluxgateTesting", "Kafka", "Telemetry", "Simulator", "fluxgate", logging, lifecycle],
        swiftSettings: swiftSettings
    ),
]

// Development aid: `FLUXGATE_ONLY=Kafka,KafkaTests swift build` builds just those targets and
// what they depend on, so work on one module is not held up by another module's edits.
if let only = Context.environment["FLUXGATE_ONLY"], !only.isEmpty {
    var keep = Set(only.split(separator: ",").map { String($0) })
    let byName = Dictionary(uniqueKeysWithValues: targets.map { ($0.name, $0) })
    var frontier = Array(keep)
    while let name = frontier.popLast() {
        for dependency in byName[name]?.dependencies ?? [] {
            if case .byNameItem(let dependencyName, _) = dependency, byName[dependencyName] != nil,
                keep.insert(dependencyName).inserted
            {
                frontier.append(dependencyName)
            }
        }
    }
    targets = targets.filter { keep.contains($0.name) }
}

let targetNames = Set(targets.map(\.name))
func product(_ make: (String, [String]) -> Product, _ name: String, _ target: String) -> [Product] {
    targetNames.contains(target) ? [make(name, [target])] : []
}
let products: [Product] =
    product({ .executable(name: $0, targets: $1) }, "fluxgate", "fluxgate")
    + product({ .executable(name: $0, targets: $1) }, "socketio-conformance", "socketio-conformance")
    + product({ .library(name: $0, targets: $1) }, "SocketIO", "SocketIO")
    + product({ .library(name: $0, targets: $1) }, "Kafka", "Kafka")
    + product({ .library(name: $0, targets: $1) }, "MQTT", "MQTT")
    + product({ .library(name: $0, targets: $1) }, "Telemetry", "Telemetry")

let package = Package(
    name: "fluxgate",
    platforms: [.macOS(.v15)],
    products: products,
    dependencies: dependencies,
    targets: targets
)
