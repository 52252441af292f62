// Kubernetes quantities as preflight's quota check reads and prints them.
import Engine
import Foundation
import Testing

@Suite struct ResourceQuantityTests {
  @Test(arguments: [
    ("500m", "0.5"), ("2", "2"), ("1.5", "1.5"), ("1Ki", "1024"), ("128Mi", "134217728"),
    ("1Gi", "1073741824"), ("2k", "2000"), ("3M", "3000000"), ("1G", "1000000000"),
    ("1e3", "1000"), ("5E2", "500"), ("1E", "1000000000000000000"), ("2.5e-1", "0.25"),
  ])
  func parsesAsKubernetesDoes(text: String, base: String) throws {
    #expect(ResourceQuantity.parse(text) == Decimal(string: base), "\(text)")
  }

  @Test func refusesWhatIsNoQuantity() {
    for text in ["", "m", "1.5x", "Mi", "one", "1 Gi"] {
      #expect(ResourceQuantity.parse(text) == nil, "\(text)")
    }
  }

  @Test func printsThousandthsAndBinaryMemory() throws {
    #expect(ResourceQuantity.text(try #require(Decimal(string: "1.5")), "requests.cpu") == "1500m")
    #expect(ResourceQuantity.text(1, "requests.cpu") == "1")
    #expect(ResourceQuantity.text(1_342_177_280, "limits.memory") == "1280Mi")
    #expect(ResourceQuantity.text(1_073_741_824, "limits.memory") == "1Gi")
    #expect(ResourceQuantity.text(1000, "memory") == "1000")
  }
}
