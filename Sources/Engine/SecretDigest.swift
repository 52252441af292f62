// What a run's journal keeps of its value flags (--set, --set-string, --set-json, --set-file,
// -f): a salted, deliberately slow hash, so the values (which may be passwords) cannot be
// confirmed offline by hashing a guess once.
import CCrypt
import Foundation

enum SecretDigest {
  /// SHA-512 crypt (`$6$`, as /etc/shadow uses) with this many rounds: about 0.1 s per check,
  /// once per run start and resume, and as much per guess for anyone holding the journal.
  static let rounds: UInt = 200_000

  /// `plain` (the unsalted digest the command computed of the flags and the files they read)
  /// under a fresh random salt; nil for nil.
  static func salted(_ plain: String?) throws(EngineError) -> String? {
    guard let plain else { return nil }
    var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
    // No random bytes given: libxcrypt draws them from the system's random source.
    guard crypt_gensalt_rn("$6$", rounds, nil, 0, &setting, Int32(setting.count)) != nil else {
      throw EngineError("cannot salt the value digest: \(String(cString: strerror(errno)))")
    }
    return try crypt(plain, setting: String(cString: setting))
  }

  /// Whether `plain` is what `recorded` was made from. Digests journaled before salting
  /// (`sha256:...`, the plain digest itself) are compared as they are.
  static func matches(_ plain: String?, _ recorded: String?) throws(EngineError) -> Bool {
    guard let plain, let recorded else { return plain == nil && recorded == nil }
    if recorded.hasPrefix("sha256:") { return plain == recorded }
    return try crypt(plain, setting: recorded) == recorded
  }

  private static func crypt(_ phrase: String, setting: String) throws(EngineError) -> String {
    let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
    defer { data.deallocate() }
    memset(data, 0, MemoryLayout<crypt_data>.size)
    // crypt(3) signals failure with a string starting with '*'.
    guard let hashed = crypt_r(phrase, setting, data), hashed.pointee != 0x2A else {
      throw EngineError("cannot hash the value flags with '\(setting.prefix(3))' crypt")
    }
    return String(cString: hashed)
  }
}
