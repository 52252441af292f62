// The journal's record of value flags: salted and slow, still checkable on resume.
import FleetCore
import Testing

@testable import Engine

@Suite struct SecretDigestTests {
  @Test func aDigestIsSaltedSlowAndMatchesOnlyWhatItWasMadeFrom() throws {
    let plain = "sha256:" + SHA256.hex(Array("db.password=hunter2".utf8))
    let first = try #require(try SecretDigest.salted(plain))
    let second = try #require(try SecretDigest.salted(plain))
    // SHA-512 crypt with its rounds and a salt of its own each time: the same values give
    // different records, and neither is the plain digest a guess could be checked against.
    #expect(first.hasPrefix("$6$rounds=200000$"))
    #expect(first != second)
    #expect(!first.contains(plain.dropFirst(7)))
    #expect(try SecretDigest.matches(plain, first))
    #expect(try SecretDigest.matches(plain, second))
    let other = "sha256:" + SHA256.hex(Array("db.password=hunter3".utf8))
    #expect(try !SecretDigest.matches(other, first))
    #expect(try !SecretDigest.matches(nil, first))
    #expect(try !SecretDigest.matches(plain, nil))
    #expect(try SecretDigest.matches(nil, nil))
    #expect(try SecretDigest.salted(nil) == nil)
  }

  @Test func digestsJournaledBeforeSaltingStillCheck() throws {
    let plain = "sha256:" + SHA256.hex(Array("a=1".utf8))
    #expect(try SecretDigest.matches(plain, plain))
    #expect(try !SecretDigest.matches("sha256:00", plain))
  }
}
