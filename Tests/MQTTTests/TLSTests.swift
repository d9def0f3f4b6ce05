import Foundation
import FluxgateTesting
import MQTT
import Testing

/// TLS with a throw-away CA made by the `openssl` command line tool.
@Suite(.timeLimit(.minutes(1)))
struct TLSTests {
    /// Writes `ca.pem`, `server.pem`, `server.key` (SAN IP:127.0.0.1) into `directory`.
    func makeCertificates(in directory: URL) async throws {
        let openssl = "/usr/bin/openssl"
        let ext = directory.appendingPathComponent("san.ext")
        try "subjectAltName=IP:127.0.0.1\n".write(to: ext, atomically: true, encoding: .utf8)
        let path = { (name: String) in directory.appendingPathComponent(name).path }
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("ca.key"),
             "-out", path("ca.pem"), "-days", "1", "-subj", "/CN=fluxgate-test-ca"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("server.key"),
             "-out", path("server.csr"), "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
             "-out", path("server.pem"), "-days", "1", "-extfile", ext.path],
        ]
        for arguments in steps {
            let process = try ChildProcess.spawn(openssl, arguments: arguments)
            let status = try await process.waitForExit(timeout: .seconds(20))
            #expect(status == 0, "openssl \(arguments.first ?? "") failed: \(process.errorLines.suffix(3))")
        }
    }

    @Test func publishAndReceiveOverTLS() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fluxgate-tls-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await makeCertificates(in: directory)
        var brokerConfiguration = MosquittoBroker.Configuration()
        brokerConfiguration.extraLines = [  // applies to the fixture's listener
            "cafile \(directory.path)/ca.pem",
            "certfile \(directory.path)/server.pem",
            "keyfile \(directory.path)/server.key",
        ]
        let broker = try await MosquittoBroker.start(brokerConfiguration)
        defer { broker.shutdown() }

        var secure = configuration(broker)
        secure.tls = .init(caFile: directory.appendingPathComponent("ca.pem").path)
        secure.subscriptions = [.init("secure/#")]
        try await withClient(secure) { subscriber, received in
            try await subscriber.subscribe("secure/#")
            var publisher = configuration(broker)
            publisher.tls = secure.tls
            try await withClient(publisher) { client, _ in
                for index in 0..<300 {
                    try await client.publish(topic: "secure/\(index % 4)", payload: "t-\(index)", qos: .atLeastOnce)
                }
            }
            try await eventually("\(received.count) of 300 over TLS") { received.count >= 300 }
            #expect(received.payloads == (0..<300).map { "t-\($0)" })
        }

        // A client that does not trust the CA never gets connected.
        var untrusting = configuration(broker)
        untrusting.tls = .init(caFile: directory.appendingPathComponent("server.pem").path)  // not a CA
        try await withClient(untrusting) { client, _ in
            try await Task.sleep(for: .milliseconds(500))
            #expect(!client.isConnected)
        }
    }
}
