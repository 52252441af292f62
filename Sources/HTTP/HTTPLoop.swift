// The one libcurl multi loop every transfer of the process runs on: one thread, one connection
// cache, a cap on open connections, and a bounded pool of idle easy handles.
import CCurl
import FleetCore
import Foundation

/// Runs HTTP transfers for every transport and every cluster on a single thread.
///
/// Transfers are added from any thread and finish through a callback on the loop's thread, so
/// a thousand requests in flight cost a thousand easy handles and at most `maxConnections`
/// sockets, not a thousand parked threads. libcurl's multi handle keeps one connection cache:
/// a kept-alive connection is reused by the next transfer to the same server with the same TLS
/// identity (libcurl matches CA, client certificate and key before reusing), whichever
/// transport or cluster it comes from. Transfers beyond the connection cap wait inside libcurl
/// for a connection to free; their `timeout` counts from the moment they were added.
public final class HTTPLoop: @unchecked Sendable {
  public struct Limits: Sendable {
    /// Open connections at most, idle or busy (CURLMOPT_MAX_TOTAL_CONNECTIONS); also the
    /// size of the idle connection cache (CURLMOPT_MAXCONNECTS).
    public var maxConnections: Int
    /// Easy handles kept for reuse when idle; more exist only while more transfers run.
    public var maxIdleHandles: Int

    public init(maxConnections: Int = 512, maxIdleHandles: Int = 64) {
      self.maxConnections = maxConnections
      self.maxIdleHandles = maxIdleHandles
    }
  }

  /// The process's loop. One is the point: a loop per transport would bring back a thread and
  /// a connection cache per cluster.
  public static let shared = HTTPLoop()

  public let limits: Limits
  private let multi: UnsafeMutableRawPointer?
  /// Where retry backoffs are scheduled; the work there only re-adds a transfer.
  let timers = DispatchQueue(label: "fleetwave.http.timers")

  // Guards everything below. The loop thread holds it only to swap queues, never across a
  // libcurl call that may block.
  private let lock = NSLock()
  private var started = false
  private var incoming: [CurlTransfer] = []
  private var aborting: [CurlTransfer] = []
  private var idle: [UnsafeMutableRawPointer] = []
  private var created = 0
  private var inFlightNow = 0
  private var inFlightPeak = 0
  /// Touched by the loop thread only: transfers added to the multi handle, by easy handle.
  private var running: [UnsafeMutableRawPointer: CurlTransfer] = [:]

  public init(_ limits: Limits = Limits()) {
    self.limits = limits
    multi = CurlLibrary.ready ? curl_multi_init() : nil
    if let multi {
      _ = fw_curl_multi_setopt_long(
        multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max(1, limits.maxConnections))
      _ = fw_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, limits.maxConnections))
    }
  }

  /// Easy handles created so far (idle ones are reused before a new one is made).
  public var handlesCreated: Int { lock.withLock { created } }
  /// Transfers added and not yet finished.
  public var inFlight: Int { lock.withLock { inFlightNow } }
  /// The most transfers in flight at once so far.
  public var peakInFlight: Int { lock.withLock { inFlightPeak } }

  /// Starts `request`; `finish` runs once, on the loop thread, with the outcome. Returns
  /// whether a new easy handle had to be created (for the transport's statistics).
  @discardableResult
  func start(
    _ request: HTTPRequest, settings: CurlSettings, cancellation: Cancellation?,
    finish: @escaping @Sendable (CurlOutcome) -> Void
  ) -> Bool {
    guard let multi, let (easy, fresh) = takeHandle() else {
      finish(.failure(.other(code: 2, message: "libcurl could not be initialized")))
      return false
    }
    let transfer = CurlTransfer(easy: easy, request: request, settings: settings, finish: finish)
    if let reason = transfer.configure() {
      giveBack(easy)
      finish(.failure(reason))
      return fresh
    }
    lock.withLock {
      incoming.append(transfer)
      inFlightNow += 1
      inFlightPeak = max(inFlightPeak, inFlightNow)
      if !started {
        started = true
        Thread.detachNewThread { [self] in run() }
      }
    }
    // Registered after the transfer is queued, so an abort always finds it queued or added.
    cancellation?.onCancel { [weak self, weak transfer] in
      guard let self, let transfer else { return }
      lock.withLock { aborting.append(transfer) }
      wakeUp()
    }
    wakeUp()
    return fresh
  }

  private func takeHandle() -> (UnsafeMutableRawPointer, Bool)? {
    if let easy = lock.withLock({ idle.popLast() }) { return (easy, false) }
    guard let easy = curl_easy_init() else { return nil }
    lock.withLock { created += 1 }
    return (easy, true)
  }

  /// Reset clears options only; the connection cache belongs to the multi handle.
  private func giveBack(_ easy: UnsafeMutableRawPointer) {
    curl_easy_reset(easy)
    let kept = lock.withLock {
      guard idle.count < limits.maxIdleHandles else { return false }
      idle.append(easy)
      return true
    }
    if !kept { curl_easy_cleanup(easy) }
  }

  private func wakeUp() {
    if let multi { curl_multi_wakeup(multi) }
  }

  private func run() {
    guard let multi else { return }
    Thread.current.name = "fleetwave-http"
    while true {
      let (added, aborted) = lock.withLock {
        defer {
          incoming = []
          aborting = []
        }
        return (incoming, aborting)
      }
      for transfer in added {
        if curl_multi_add_handle(multi, transfer.easy) == CURLM_OK {
          running[transfer.easy] = transfer
        } else {
          complete(transfer, .failure(.other(code: 2, message: "libcurl refused the transfer")))
        }
      }
      for transfer in aborted where running[transfer.easy] === transfer {
        // Removing the handle closes its connection at once if a response was under way.
        running[transfer.easy] = nil
        curl_multi_remove_handle(multi, transfer.easy)
        complete(transfer, .failure(.cancelled))
      }
      var active: Int32 = 0
      _ = curl_multi_perform(multi, &active)
      var remaining: Int32 = 0
      while let message = curl_multi_info_read(multi, &remaining) {
        guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
          let transfer = running.removeValue(forKey: easy)
        else { continue }
        curl_multi_remove_handle(multi, easy)
        complete(transfer, transfer.outcome(fw_curl_msg_result(message)))
      }
      // libcurl shortens the wait to its own next timeout; a wakeup ends it at once.
      _ = curl_multi_poll(multi, nil, 0, 60_000, nil)
    }
  }

  private func complete(_ transfer: CurlTransfer, _ outcome: CurlOutcome) {
    giveBack(transfer.easy)
    lock.withLock { inFlightNow -= 1 }
    transfer.finish(outcome)
  }
}
