import NIOCore
import NIOPosix

/// A plain TCP connection for tests: raw bytes out, an async stream of bytes in.
final class RawConnection {
    let channel: any Channel
    private var iterator: AsyncStream<ByteBuffer>.AsyncIterator
    var buffer = ByteBuffer()
    private(set) var eof = false

    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<ByteBuffer>.Continuation
        init(_ continuation: AsyncStream<ByteBuffer>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }
        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
            context.fireChannelInactive()
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private init(channel: any Channel, stream: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.iterator = stream.makeAsyncIterator()
    }

    static func connect(port: Int) async throws -> RawConnection {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, stream: stream)
    }

    func write(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes).get()
    }

    func write(_ string: String) async throws {
        try await write(ByteBuffer(string: string))
    }

    /// Reads more bytes into `buffer`; false at end of stream.
    func fill() async -> Bool {
        guard !eof else { return false }
        guard var chunk = await iterator.next() else {
            eof = true
            return false
        }
        buffer.writeBuffer(&chunk)
        return true
    }

    func close() {
        channel.close(promise: nil)
    }
}
