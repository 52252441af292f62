// Preflight: image references that move under a release (`:latest`, or no tag, which pulls
// latest), so two clusters of one wave may run different code. Warnings unless `--strict`.
import FleetCore
import Kube

enum ImageCheck {
  static func run(_ objects: [Value]) -> [PreflightProblem] {
    var problems: [PreflightProblem] = []
    for object in objects {
      var images: [String] = []
      collect(object, into: &images)
      for image in images {
        guard let why = moving(image) else { continue }
        problems.append(
          PreflightProblem(
            .images, .warning, "\(ObjectKey(object)) runs image \(image): \(why)"))
      }
    }
    return problems
  }

  /// Every `image` of every container list (`containers`, `initContainers`,
  /// `ephemeralContainers`) anywhere in the object: pods, pod templates, job templates, CRDs
  /// that embed pod specs.
  private static func collect(_ value: Value, into images: inout [String]) {
    if let mapping = value.mapping {
      for entry in mapping {
        if ["containers", "initContainers", "ephemeralContainers"].contains(entry.key),
          let containers = entry.value.sequence
        {
          images += containers.compactMap { $0["image"]?.string }
        } else {
          collect(entry.value, into: &images)
        }
      }
    } else if let items = value.sequence {
      for item in items { collect(item, into: &images) }
    }
  }

  /// Why a reference moves, or nil when it is pinned to a tag or digest.
  static func moving(_ image: String) -> String? {
    if image.contains("@") { return nil }
    // A registry port (`host:5000/app`) has a colon too; only the last path part holds a tag.
    let last = image.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
    guard let colon = last.lastIndex(of: ":") else {
      return "no tag, so it pulls :latest (pin a version or a digest)"
    }
    if last[last.index(after: colon)...] == "latest" {
      return "the tag latest moves (pin a version or a digest)"
    }
    return nil
  }
}
