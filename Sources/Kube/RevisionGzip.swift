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
    let (output, status) = drain(input, through: &stream) { deflate(&$0, Z_FINISH) }
    guard status == Z_STREAM_END else { throw GzipError(message: "gzip: compression failed") }
    return output
  }

  /// The bytes of a gzip stream; refuses anything truncated or corrupt.
  static func decompress(_ input: [UInt8]) throws(GzipError) -> [UInt8] {
    var stream = z_stream()
    guard czlib_inflate_init_gzip(&stream) == Z_OK else {
      throw GzipError(message: "gzip: cannot start the decompressor")
    }
    defer { inflateEnd(&stream) }
    let (output, status) = drain(input, through: &stream) { inflate(&$0, Z_NO_FLUSH) }
    guard status == Z_STREAM_END else {
      throw GzipError(message: "gzip: the data is truncated or corrupt")
    }
    return output
  }

  /// Feeds all of `input` to a started zlib stream and collects what `step` produces, 64 KiB
  /// at a time, until `step` stops answering Z_OK; returns the output and the last status.
  private static func drain(
    _ input: [UInt8], through stream: inout z_stream, step: (inout z_stream) -> Int32
  ) -> ([UInt8], Int32) {
    var output: [UInt8] = []
    var source = input
    let status: Int32 = source.withUnsafeMutableBufferPointer { inBuffer in
      stream.next_in = inBuffer.baseAddress
      stream.avail_in = uInt(inBuffer.count)
      var chunk = [UInt8](repeating: 0, count: 64 * 1024)
      var status: Int32 = Z_OK
      while status == Z_OK {
        status = chunk.withUnsafeMutableBufferPointer { outBuffer in
          stream.next_out = outBuffer.baseAddress
          stream.avail_out = uInt(outBuffer.count)
          return step(&stream)
        }
        output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
      }
      return status
    }
    return (output, status)
  }
}
