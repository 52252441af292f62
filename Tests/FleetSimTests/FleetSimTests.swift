// FleetSim tests.
