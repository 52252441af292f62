// HTTP tests.
