// FleetYAML
