// Planner tests.
