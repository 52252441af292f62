// Whole files read with plain system calls straight into the array that keeps them: a values
// file may be tens of megabytes, and reading it through Data (or a chunk buffer the size of the
// file) held two copies of it at once.
import Foundation

public enum FileContents {
  public enum Failure: Error, Sendable {
    case missing
    case unreadable(String)
    case tooLarge(Int)
  }

  /// The file's bytes, read to its end, refused once they pass `limit`.
  public static func bytes(atPath path: String, limit: Int) -> Result<[UInt8], Failure> {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      return .failure(errno == ENOENT ? .missing : .unreadable(String(cString: strerror(errno))))
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      return .failure(.unreadable(String(cString: strerror(errno))))
    }
    let expected = Int(info.st_size)
    if expected > limit { return .failure(.tooLarge(expected)) }
    // One byte more than the file's size, so a regular file is read to its end in one pass
    // into an array that keeps no spare room (a fleet may hold 100,000 small cluster files);
    // pipes and files that grow while read take the chunked path below.
    var failure: Failure?
    var bytes = [UInt8](unsafeUninitializedCapacity: expected + 1) { buffer, count in
      count = 0
      guard let base = buffer.baseAddress else { return }
      while count < buffer.count {
        let n = read(fd, base + count, buffer.count - count)
        if n < 0 {
          if errno == EINTR { continue }
          failure = .unreadable(String(cString: strerror(errno)))
          return
        }
        if n == 0 { return }
        count += n
      }
    }
    if let failure { return .failure(failure) }
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while bytes.count > expected {
      if bytes.count > limit { return .failure(.tooLarge(bytes.count)) }
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        return .failure(.unreadable(String(cString: strerror(errno))))
      }
      if n == 0 { break }
      bytes.append(contentsOf: chunk[0..<n])
    }
    if bytes.count > limit { return .failure(.tooLarge(bytes.count)) }
    return .success(bytes)
  }
}
