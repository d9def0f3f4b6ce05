import CZlib
import NIOCore

/// gzip / deflate of long-polling responses through zlib, as the reference server does.
enum HTTPCompression: String {
    case gzip
    case deflate

    /// The first encoding the client accepts, preferring gzip. `q=0` entries are ignored.
    static func negotiate(acceptEncoding: String?) -> HTTPCompression? {
        guard let acceptEncoding else { return nil }
        var accepted: Set<String> = []
        for item in acceptEncoding.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let name = parts.first?.trimmingSpaces.lowercased() else { continue }
            let refused = parts.dropFirst().contains { $0.trimmingSpaces.replacingSpaces == "q=0" }
            if !refused { accepted.insert(name) }
        }
        if accepted.contains("gzip") { return .gzip }
        if accepted.contains("deflate") { return .deflate }
        return nil
    }

    /// Compresses `input`; nil if zlib fails (the caller then sends it uncompressed).
    func compress(_ input: ByteBuffer) -> ByteBuffer? {
        var stream = z_stream()
        // 31 = 15-bit window + gzip wrapper; 15 = zlib wrapper (HTTP "deflate").
        let windowBits: Int32 = self == .gzip ? 31 : 15
        let initResult = deflateInit2_(
            &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)
        )
        guard initResult == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.readableBytes)))
        var output = ByteBuffer()
        var ok = false
        _ = input.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { target in
                stream.next_in = UnsafeMutablePointer(
                    mutating: source.bindMemory(to: Bytef.self).baseAddress ?? UnsafePointer(bitPattern: 1))
                stream.avail_in = uInt(source.count)
                stream.next_out = target.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(target.count)
                ok = CZlib.deflate(&stream, Z_FINISH) == Z_STREAM_END
                return ok ? Int(stream.total_out) : 0
            }
        }
        return ok ? output : nil
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: Substring {
        let trimmed = self.drop(while: { $0 == " " || $0 == "\t" })
        var end = trimmed.endIndex
        while end > trimmed.startIndex, trimmed[trimmed.index(before: end)] == " " { end = trimmed.index(before: end) }
        return Substring(trimmed[trimmed.startIndex..<end])
    }

    fileprivate var replacingSpaces: String { String(self.filter { $0 != " " }) }
}
