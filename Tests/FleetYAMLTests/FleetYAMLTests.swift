// FleetYAML tests.
