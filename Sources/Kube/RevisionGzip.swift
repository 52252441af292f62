// gzip for revision records, the one file that talks to zlib.
import CZlib

/// A gzip stream that zlib refused, with zlib's own words.
public struct GzipError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}

enum Gzip {
  /// A gzip member (RFC 1952), as `gzip` and Go's `compress/gzip` read it.
  static func compress(_ input: [UInt8]) throws(GzipError) -> [UInt8] {
    var stream = z_stream()
    guard czlib_deflate_init_gzip(&stream) == Z_OK else {
      throw GzipError(message: "gzip: cannot start the compressor")
    }
    defer { deflateEnd(&stream) }
    var output: [UInt8] = []
    var source = input
    let result: Int32 = source.withUnsafeMutableBufferPointer { inBuffer in
      stream.next_in = inBuffer.baseAddress
      stream.avail_in = uInt(inBuffer.count)
      var chunk = [UInt8](repeating: 0, count: 64 * 1024)
      var status: Int32 = Z_OK
      while status == Z_OK {
        status = chunk.withUnsafeMutableBufferPointer { outBuffer in
          stream.next_out = outBuffer.baseAddress
          stream.avail_out = uInt(outBuffer.count)
          return deflate(&stream, Z_FINISH)
        }
        output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
      }
      return status
    }
    guard result == Z_STREAM_END else { throw GzipError(message: "gzip: compression failed") }
    return output
  }

  /// The bytes of a gzip stream; refuses anything truncated or corrupt.
  static func decompress(_ input: [UInt8]) throws(GzipError) -> [UInt8] {
    var stream = z_stream()
    guard czlib_inflate_init_gzip(&stream) == Z_OK else {
      throw GzipError(message: "gzip: cannot start the decompressor")
    }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var source = input
    let result: Int32 = source.withUnsafeMutableBufferPointer { inBuffer in
      stream.next_in = inBuffer.baseAddress
      stream.avail_in = uInt(inBuffer.count)
      var chunk = [UInt8](repeating: 0, count: 64 * 1024)
      var status: Int32 = Z_OK
      while status == Z_OK {
        status = chunk.withUnsafeMutableBufferPointer { outBuffer in
          stream.next_out = outBuffer.baseAddress
          stream.avail_out = uInt(outBuffer.count)
          return inflate(&stream, Z_NO_FLUSH)
        }
        output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
      }
      return status
    }
    guard result == Z_STREAM_END else {
      throw GzipError(message: "gzip: the data is truncated or corrupt")
    }
    return output
  }
}
