// swift-tools-version:6.1
// The Fluxgate side of the Socket.IO benchmark (run.sh): a small server built on the SocketIO
// module with the same event contract as pyserver.py. A separate package so that it can be built
// in release mode on its own.
import PackageDescription

let package = Package(
    name: "fluxgate-socketio-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "fluxgate", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "sio-bench-server",
            dependencies: [
                .product(name: "SocketIO", package: "fluxgate"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ]
)
