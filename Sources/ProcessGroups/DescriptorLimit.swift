// The soft limit on open files, raised at start to what a run may need, with a clear warning
// when even the hard limit is too low for the parallelism asked for.
#if canImport(Glibc)
  import Glibc
#endif

/// Open-descriptor budget for a run (RLIMIT_NOFILE).
public enum DescriptorLimit {
  /// Descriptors one cluster in flight may hold at once: a child's three pipes and pidfd, or an
  /// HTTP connection, with room to spare.
  public static let perCallInFlight = 4
  /// The process's own: standard streams, the journal, logs, the HTTP loop's wakeup pipe,
  /// libcurl's and Dispatch's internals.
  public static let baseline = 256

  /// What `maxParallel` calls in flight need.
  public static func needed(maxParallel: Int) -> Int {
    baseline + perCallInFlight * max(0, maxParallel)
  }

  /// Raises the soft limit as far as the hard limit allows (never lowers it). Returns a
  /// warning to print when the result is still below what `maxParallel` needs, nil otherwise.
  public static func raise(forMaxParallel maxParallel: Int) -> String? {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
      return "warning: cannot read the open-file limit (RLIMIT_NOFILE)"
    }
    if limit.rlim_cur < limit.rlim_max {
      var raised = limit
      raised.rlim_cur = limit.rlim_max
      if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    return warning(soft: Int(clamping: limit.rlim_cur), maxParallel: maxParallel)
  }

  /// The warning for a soft limit of `soft` descriptors, nil when it is enough.
  public static func warning(soft: Int, maxParallel: Int) -> String? {
    let need = needed(maxParallel: maxParallel)
    guard soft < need else { return nil }
    let fits = max(0, (soft - baseline) / perCallInFlight)
    return
      "warning: the open-file limit is \(soft), maxParallel \(maxParallel) needs about \(need); "
      + "raise it (ulimit -n \(need)) or expect failures beyond about \(fits) clusters in flight"
  }
}
