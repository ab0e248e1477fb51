/// A coalescing wake-up for a service's loop: anyone may `poke()`; the loop waits for a poke or a timeout. Pokes
/// made while the loop is busy fold into one, so the loop runs once more, not once per poke.
struct WakeSignal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Wakes the loop now, or makes its next wait return at once.
    func poke() { continuation.yield() }

    /// The loop's side; made once, by the one task that waits.
    func waiter() -> Waiter { Waiter(iterator: stream.makeAsyncIterator(), continuation: continuation) }

    struct Waiter {
        fileprivate var iterator: AsyncStream<Void>.Iterator
        fileprivate let continuation: AsyncStream<Void>.Continuation

        /// Returns after a poke, or after `timeout` seconds (capped at a day); with no timeout, only after a poke.
        mutating func wait(timeout: Double?) async {
            guard let timeout else {
                _ = await iterator.next()
                return
            }
            let continuation = self.continuation
            let timer = Task {
                try await Task.sleep(for: .milliseconds(Int(min(timeout, 86_400) * 1000)))
                continuation.yield()
            }
            _ = await iterator.next()
            timer.cancel()
        }
    }
}
