import Foundation
import FleetCore
import Testing

@Suite struct JSONTests {
  @Test func roundTripsKeepingOrder() throws {
    let text = #"{"z":1,"a":[true,null,1.5,"x\n\"y\""],"m":{"k":-3e2}}"#
    let value = try JSONReader.parse(text)
    #expect(value.mapping?.keys == ["z", "a", "m"])
    #expect(value["m"]?["k"] == .double(-300))
    #expect(JSONWriter.string(value) == #"{"z":1,"a":[true,null,1.5,"x\n\"y\""],"m":{"k":-300}}"#)
  }

  @Test func unicodeEscapesAndSurrogates() throws {
    let value = try JSONReader.parse(#""\u00e9\ud83d\ude00""#)
    #expect(value.string == "é😀")
  }

  @Test func errorsCarryLineAndColumn() {
    #expect {
      try JSONReader.parse("{\n  \"a\": 1,\n  \"a\": 2\n}", path: "body.json")
    } throws: { error in
      (error as? Diagnostic)?.headline == "body.json:3:3: error: duplicate key 'a'"
    }
    #expect {
      try JSONReader.parse("[1, 2", path: "body.json")
    } throws: { error in
      (error as? Diagnostic)?.headline == "body.json:1:6: error: unterminated JSON array"
    }
  }

  @Test func numbersFormatLikeHelm() {
    #expect(Value.format(1000) == "1000")
    #expect(Value.format(1.2345678901234567e19) == "12345678901234567168")
    #expect(Value.format(0.5) == "0.5")
    #expect(Value.format(1e21) == "1e+21")
  }

  @Test func equalityIgnoresOrderAndMarks() {
    let a: Value = ["x": 1, "y": ["a", "b"]]
    let b: Value = ["y": ["a", "b"], "x": 1.0]
    #expect(a == b)
    #expect(a != ["x": 1, "y": ["b", "a"]])
  }
}

@Suite struct ManualClockTests {
  @Test func advancingFiresTimersInDeadlineOrder() async {
    let clock = ManualClock()
    let start = clock.now()
    let queue = DispatchQueue(label: "timers")
    let fired = LockedList()
    clock.schedule(at: start.addingTimeInterval(20), on: queue) { fired.append(2) }
    clock.schedule(at: start.addingTimeInterval(10), on: queue) { fired.append(1) }
    let cancelled = clock.schedule(at: start.addingTimeInterval(15), on: queue) { fired.append(99) }
    cancelled.cancel()
    clock.advance(by: .seconds(30))
    queue.sync {}
    #expect(fired.values == [1, 2])
    #expect(clock.now() == start.addingTimeInterval(30))
  }

  @Test func waitersWakeOnlyWhenTheirDeadlineIsReached() {
    let clock = ManualClock()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      clock.wait(for: .seconds(60))
      done.signal()
    }
    #expect(clock.waitForWaiters(1))
    clock.advance(by: .seconds(59))
    #expect(done.wait(timeout: .now() + 0.05) == .timedOut)
    clock.advance(by: .seconds(1))
    #expect(done.wait(timeout: .now() + 10) == .success)
  }

  @Test func cancellationWakesAWaiter() {
    let clock = ManualClock()
    let cancellation = Cancellation()
    let result = LockedList()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      result.append(clock.wait(for: .seconds(60), cancellation: cancellation) ? 1 : 0)
      done.signal()
    }
    #expect(clock.waitForWaiters(1))
    cancellation.cancel()
    #expect(done.wait(timeout: .now() + 10) == .success)
    #expect(result.values == [0])
  }
}

final class LockedList: @unchecked Sendable {
  private let lock = NSLock()
  private var items: [Int] = []
  func append(_ i: Int) {
    lock.lock()
    items.append(i)
    lock.unlock()
  }
  var values: [Int] {
    lock.lock()
    defer { lock.unlock() }
    return items
  }
}

@Suite struct SHA256Tests {
  /// FIPS 180-4's own examples, and a message that spans two blocks.
  @Test func knownDigests() {
    #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      SHA256.hex(Array("abc".utf8))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
  }
}
