import FleetCore
import Testing

@Suite struct ClusterTemplateTests {
  let cluster = Cluster(
    name: "prod-eu-1", labels: ["env": "prod", "region": "eu-west-1"], context: "ctx-eu-1")

  @Test func rendersFieldsLabelsAndVariables() throws {
    let text = "values/{{ .labels.env }}/{{.name}}-{{ .version }}.yaml"
    #expect(
      try ClusterTemplate.render(text, cluster: cluster, variables: ["version": "1.4.2"])
        == "values/prod/prod-eu-1-1.4.2.yaml")
    #expect(try ClusterTemplate.render("plain", cluster: cluster) == "plain")
  }

  @Test func missingLabelPointsAtThePlaceholder() {
    let file = SourceFile(path: "fleet.yaml", text: "  - values/{{ .labels.tier }}.yaml\n")
    let mark = SourceMark(file: file, line: 1, column: 5)
    #expect {
      try ClusterTemplate.render("values/{{ .labels.tier }}.yaml", cluster: cluster, mark: mark)
    } throws: { error in
      (error as? Diagnostic)?.description == """
        fleet.yaml:1:12: error: cluster 'prod-eu-1' has no label 'tier'
              - values/{{ .labels.tier }}.yaml
                       ^
        """
    }
  }

  @Test func unknownFieldSuggestsTheClosest() {
    #expect(
      ClusterTemplate.check("{{ .nmae }}").first?.message
        == "unknown template field '.nmae'; did you mean '.name'?")
    #expect(ClusterTemplate.check("{{ .labels.anything }}/{{ .server }}").isEmpty)
    #expect(ClusterTemplate.check("a {{ .name").first?.message == "unclosed '{{' in template")
  }
}
