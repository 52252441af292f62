// Health tests.
