import Foundation
import InsightCore
import Testing

@Suite("The monotonic clock")
struct MonotonicClockTests {
    /// It counts seconds (not milliseconds or nanoseconds) and never goes back, across a sleep of a known length.
    @Test func itCountsElapsedSecondsAndNeverGoesBack() {
        let start = monotonicSeconds()
        var last = start
        for _ in 0..<1000 {
            let next = monotonicSeconds()
            #expect(next >= last)
            last = next
        }
        usleep(200_000)
        let elapsed = monotonicSeconds() - start
        #expect(elapsed >= 0.2 && elapsed < 30, "\(elapsed)")
    }
}
