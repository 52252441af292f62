// Revision records: the Secret's shape, gzip round trips, the values digest.
import FleetCore
import Foundation
import Testing

@testable import Kube

@Suite struct RevisionTests {
  let record = RevisionRecord(
    release: "checkout", namespace: "shop", revision: 3, status: .superseded,
    objects: [
      ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c", "namespace": "shop"]]
    ],
    valuesDigest: RevisionRecord.digest(values: ["replicaCount": 2]), version: "1.4.2",
    chart: "charts/checkout", created: Date(timeIntervalSince1970: 1_800_000_000),
    description: "rollback to 1")

  @Test func aRecordIsAGzippedSecretAndReadsBackTheSame() throws {
    let secret = try record.secret()
    #expect(secret["metadata"]?["name"] == "fleetwave.release.v1.checkout.v3")
    #expect(
      secret["metadata"]?["labels"]
        == ["owner": "fleetwave", "name": "checkout", "revision": "3", "status": "superseded"])
    let encoded = try #require(secret["data"]?["release"]?.string)
    let bytes = try #require(Data(base64Encoded: encoded))
    // The gzip magic number, then deflate.
    #expect(Array(bytes.prefix(3)) == [0x1f, 0x8b, 0x08])
    let json = try JSONReader.parse(try Gzip.decompress(Array(bytes)))
    #expect(json["created"] == "2027-01-15T08:00:00.000Z")
    #expect(json["chart"] == "charts/checkout")
    #expect(try RevisionRecord.decode(secret: secret) == record)
  }

  @Test func corruptRecordsAreRefusedByName() throws {
    var secret = try record.secret().mapping ?? Mapping()
    let truncated = Data(try Gzip.compress(Array("{\"release\":1}".utf8)).prefix(12))
      .base64EncodedString()
    secret["data"] = ["release": .string(truncated)]
    #expect(
      throws: RevisionRecordError(
        message:
          "revision record fleetwave.release.v1.checkout.v3: gzip: the data is truncated or corrupt"
      )
    ) {
      try RevisionRecord.decode(secret: .mapping(secret))
    }
  }

  @Test func theValuesDigestIsSHA256OfSortedJSON() {
    // Known answers (FIPS 180-4 examples), then the digest ignores key order.
    #expect(
      SHA256.hex(Array("abc".utf8))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      RevisionRecord.digest(values: ["a": 1, "b": ["c": true]])
        == RevisionRecord.digest(values: ["b": ["c": true], "a": 1]))
    #expect(RevisionRecord.digest(values: ["a": 1]) == SHA256.hex(Array("{\"a\":1}".utf8)))
  }
}
