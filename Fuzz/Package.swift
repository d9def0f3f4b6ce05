// swift-tools-version:6.1
// libFuzzer targets for the SocketIO decoders. A separate package, because a fuzz executable has
// no `main` of its own (libFuzzer's is linked in by `--sanitize=fuzzer`), so it cannot be part of
// the main package's plain `swift build`. Build and run with scripts/fuzz.sh.
import PackageDescription

let package = Package(
    name: "fluxgate-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "fluxgate", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        // Engine.IO: text packets, polling payloads (record separator 0x1e), base64 binary.
        .executableTarget(
            name: "fuzz-engineio",
            dependencies: [
                .product(name: "SocketIO", package: "fluxgate"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Socket.IO: packet text (type, attachments, namespace, id, JSON payload) and JSON alone.
        .executableTarget(
            name: "fuzz-socketio",
            dependencies: [
                .product(name: "SocketIO", package: "fluxgate"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
