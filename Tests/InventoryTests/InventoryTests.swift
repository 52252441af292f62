// Inventory tests.
