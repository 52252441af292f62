// Pages laid out by a real browser: Debian's chromium, headless, one profile per call.
import Foundation

public enum HeadlessChromium {
  public static let path = "/usr/bin/chromium"
  public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

  /// Runs chromium on `page` (a file path) with `extra` arguments (`--dump-dom`,
  /// `--screenshot=FILE`), its profile under `directory`. A page reports what it measured by
  /// writing it into `document.title`, which `--dump-dom` prints.
  @discardableResult
  public static func run(
    _ page: String, _ extra: [String], in directory: TemporaryDirectory,
    windowSize: String = "1280,1000"
  ) throws -> ProcessResult {
    let flags = [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--window-size=\(windowSize)", "--user-data-dir=\(directory.file("profile"))",
    ]
    return try runProcess(path, flags + extra + ["file://\(page)"], timeout: 120)
  }
}
