import Foundation
import NIOCore

/// A response read by `RawHTTP`.
struct RawResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: ByteBuffer

    var text: String { String(buffer: body) }

    func header(_ name: String) -> String? {
        headers.first(where: { $0.0.lowercased() == name.lowercased() })?.1
    }
}

/// Minimal HTTP/1.1 client (one request per connection) for protocol tests.
enum RawHTTP {
    static func request(
        port: Int, method: String = "GET", path: String, headers: [(String, String)] = [], body: ByteBuffer? = nil
    ) async throws -> RawResponse {
        let connection = try await RawConnection.connect(port: port)
        defer { connection.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.readableBytes)\r\n" } else if method == "POST" || method == "PUT" {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        var out = ByteBuffer(string: head)
        if let body { out.writeImmutableBuffer(body) }
        try await connection.write(out)
        while await connection.fill() {}
        return try parse(connection.buffer)
    }

    static func get(port: Int, _ path: String, headers: [(String, String)] = []) async throws -> RawResponse {
        try await request(port: port, path: path, headers: headers)
    }

    static func post(port: Int, _ path: String, _ body: String, headers: [(String, String)] = []) async throws
        -> RawResponse
    {
        try await request(port: port, method: "POST", path: path, headers: headers, body: ByteBuffer(string: body))
    }

    static func parse(_ data: ByteBuffer) throws -> RawResponse {
        let bytes = Array(data.readableBytesView)
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw TestFailure("no complete HTTP response (\(bytes.count) bytes)")
        }
        let headText = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestFailure("bad status line") }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        var body = ByteBuffer(bytes: bytes[end.upperBound...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }) {
            var decoded = ByteBuffer()
            while let lineEnd = body.readableBytesView.firstRange(of: Array("\r\n".utf8)) {
                let sizeText = String(decoding: body.readableBytesView[body.readerIndex..<lineEnd.lowerBound], as: UTF8.self)
                guard let size = Int(sizeText, radix: 16) else { break }
                body.moveReaderIndex(to: lineEnd.upperBound)
                if size == 0 { break }
                guard var chunk = body.readSlice(length: size) else { break }
                decoded.writeBuffer(&chunk)
                body.moveReaderIndex(forwardBy: min(2, body.readableBytes))
            }
            body = decoded
        }
        return RawResponse(status: status, headers: headers, body: body)
    }
}
