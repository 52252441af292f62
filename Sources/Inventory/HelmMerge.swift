// Helm's two ways of combining values, reproduced rule for rule: `-f` files layered on each
// other, and the result coalesced with a chart's own defaults.
import FleetCore

public enum HelmMerge {
  /// One `-f` file over the ones before it (helm's `mergeMaps`): maps merge key by key,
  /// everything else (scalars, lists, and `null`) replaces what was there. A `null` therefore
  /// survives between layers, as a key whose value is null.
  public static func layer(_ top: Mapping, over base: Mapping) -> Mapping {
    var out = base
    for entry in top {
      if case .mapping(let topMap) = entry.value.kind, let existing = out[entry.key],
        case .mapping(let baseMap) = existing.kind
      {
        out[entry.key, keyMark: entry.keyMark] = Value(
          .mapping(layer(topMap, over: baseMap)), mark: entry.value.mark)
      } else {
        out[entry.key, keyMark: entry.keyMark] = entry.value
      }
    }
    return out
  }

  /// The user's values coalesced with a chart's defaults (helm's `CoalesceValues`): a key the
  /// user set to `null` is removed when the chart has a default for it; other user values win;
  /// maps coalesce recursively; a user map never takes a chart scalar, nor a user scalar a chart
  /// map. Keys come in the chart's order, then the user's own keys.
  public static func coalesce(_ user: Mapping, withDefaults defaults: Mapping) -> Mapping {
    var out = Mapping()
    out.reserveCapacity(max(user.count, defaults.count))
    for entry in defaults {
      guard let mine = user.entry(entry.key) else {
        out.append(entry)
        continue
      }
      switch (mine.value.kind, entry.value.kind) {
      case (.null, _):
        continue
      case (.mapping(let userMap), .mapping(let chartMap)):
        out.append(
          entry.key, keyMark: mine.keyMark,
          Value(.mapping(coalesce(userMap, withDefaults: chartMap)), mark: mine.value.mark))
      default:
        out.append(entry.key, keyMark: mine.keyMark, mine.value)
      }
    }
    for entry in user where !defaults.contains(entry.key) {
      out.append(entry)
    }
    return out
  }
}
