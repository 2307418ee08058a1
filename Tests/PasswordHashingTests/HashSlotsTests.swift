import Foundation
import Synchronization
import Testing

@testable import PasswordHashing

/// The turns of `HashSlots`, with real threads waiting on the real semaphore.
@Suite struct HashSlotsTests {
    @Test func freedSlots_goToWaitingOwnersInTurn_notInTheOrderTheyCame() {
        let slots = HashSlots(1)
        slots.acquire(for: 0)
        let order = Mutex<[UInt32]>([])
        let done = DispatchGroup()
        // Five waiters of owner 1 queue first, then one of owner 2.
        for (index, owner) in ([1, 1, 1, 1, 1, 2] as [UInt32]).enumerated() {
            done.enter()
            Thread {
                slots.acquire(for: owner)
                order.withLock { $0.append(owner) }
                slots.release()
                done.leave()
            }.start()
            while slots.waitingCount < index + 1 { usleep(1000) }
        }
        slots.release()
        done.wait()
        let granted = order.withLock { $0 }
        #expect(granted.count == 6)
        #expect(granted.prefix(2).contains(2), "owner 2 waited behind all of owner 1: \(granted)")
    }

    @Test func aFreeSlot_isTakenAtOnce_andTheCountHolds() {
        let slots = HashSlots(2)
        slots.acquire(for: 7)
        slots.acquire(for: 7)
        #expect(slots.waitingCount == 0)
        let third = DispatchGroup()
        third.enter()
        Thread {
            slots.acquire(for: 8)
            third.leave()
        }.start()
        while slots.waitingCount < 1 { usleep(1000) }
        slots.release()
        third.wait()
        #expect(slots.waitingCount == 0)
    }
}
