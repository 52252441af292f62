// Executor tests.
