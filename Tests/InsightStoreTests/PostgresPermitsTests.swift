import Foundation
@testable import InsightPostgres
import Synchronization
import Testing

@Suite("The PostgreSQL pool's connection permits")
struct PostgresPermitsTests {
    @Test func aCallerBeyondThePermitsWaitsUntilOneIsGiven() async throws {
        let permits = Permits(2)
        permits.take()
        permits.take()
        let taken = Mutex(false)
        let thread = Thread {
            permits.take()
            taken.withLock { $0 = true }
        }
        thread.start()
        // The third caller waits while both permits are out...
        try await Task.sleep(for: .milliseconds(200))
        #expect(!taken.withLock { $0 })
        // ...and goes on once one comes back.
        permits.give()
        let deadline = ContinuousClock.now + .seconds(10)
        while !taken.withLock({ $0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(taken.withLock { $0 })
    }
}
