// Input text with its path, so that any mark into it can show the line it points at.
import Foundation

/// One input file (or in-memory buffer) whose contents stay available for diagnostics.
public final class SourceFile: Sendable, CustomStringConvertible {
  /// The path as the user named it, used verbatim in `path:line:col` messages.
  public let path: String
  /// The raw bytes, kept so a diagnostic can quote the line it points at; empty for a file
  /// that is read again when a line is wanted (`onDisk`).
  public let bytes: [UInt8]
  private let rereads: Bool

  public init(path: String, bytes: [UInt8]) {
    self.path = path
    self.bytes = bytes
    rereads = false
  }

  private init(rereading path: String) {
    self.path = path
    bytes = []
    rereads = true
  }

  /// A file whose text is not kept: a diagnostic that quotes one of its lines reads the file
  /// again. For large inputs parsed once into a tree (values files), whose marks would
  /// otherwise keep the whole text alive beside the tree for as long as the tree lives.
  public static func onDisk(path: String) -> SourceFile {
    SourceFile(rereading: path)
  }

  public convenience init(path: String, text: String) {
    self.init(path: path, bytes: Array(text.utf8))
  }

  public var description: String { path }

  /// The text of a 1-based line, without its line break; nil past the end.
  public func line(_ number: Int) -> String? {
    guard number >= 1 else { return nil }
    if rereads {
      guard let data = FileManager.default.contents(atPath: path) else { return nil }
      return SourceFile(path: path, bytes: [UInt8](data)).line(number)
    }
    var current = 1
    var start = 0
    var index = 0
    let count = bytes.count
    while current < number {
      guard let newline = firstNewline(from: index) else { return nil }
      index = newline + 1
      current += 1
      start = index
    }
    if start > count { return nil }
    let end = firstNewline(from: start) ?? count
    var slice = bytes[start..<end]
    if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
    return String(decoding: slice, as: UTF8.self)
  }

  private func firstNewline(from index: Int) -> Int? {
    var i = index
    while i < bytes.count {
      if bytes[i] == UInt8(ascii: "\n") { return i }
      i += 1
    }
    return nil
  }
}

/// A position in a source file: 1-based line and column (columns count characters).
public struct SourceMark: Sendable, Hashable, CustomStringConvertible {
  public let file: SourceFile
  // 32-bit fields keep a mark at 16 bytes: every node and key of a tree carries one.
  private let storedLine: Int32
  private let storedColumn: Int32

  public var line: Int { Int(storedLine) }
  public var column: Int { Int(storedColumn) }

  public init(file: SourceFile, line: Int, column: Int) {
    self.file = file
    storedLine = Int32(clamping: line)
    storedColumn = Int32(clamping: column)
  }

  /// `path:line:col`, the form every editor and CI log understands.
  public var description: String { "\(file.path):\(line):\(column)" }

  public static func == (lhs: SourceMark, rhs: SourceMark) -> Bool {
    lhs.line == rhs.line && lhs.column == rhs.column && lhs.file.path == rhs.file.path
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(file.path)
    hasher.combine(line)
    hasher.combine(column)
  }

  /// The same line, `offset` characters to the right: for pointing inside a scalar.
  public func advanced(by offset: Int) -> SourceMark {
    SourceMark(file: file, line: line, column: column + offset)
  }
}
