// The open-file limit: raised to the hard limit, and a warning that says what to do.
import Foundation
import ProcessGroups
import Testing

@Suite struct DescriptorLimitTests {
  @Test func theSoftLimitIsRaisedToTheHardLimit() {
    _ = DescriptorLimit.raise(forMaxParallel: 10)
    var limit = rlimit()
    #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
    #expect(limit.rlim_cur == limit.rlim_max)
  }

  @Test func aLimitTooLowForMaxParallelIsNamedWithTheFix() {
    #expect(DescriptorLimit.needed(maxParallel: 2000) == 8256)
    #expect(DescriptorLimit.warning(soft: 8256, maxParallel: 2000) == nil)
    #expect(
      DescriptorLimit.warning(soft: 1024, maxParallel: 2000)
        == "warning: the open-file limit is 1024, maxParallel 2000 needs about 8256; "
        + "raise it (ulimit -n 8256) or expect failures beyond about 192 clusters in flight")
  }
}
