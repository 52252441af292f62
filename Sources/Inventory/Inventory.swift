// Inventory module: see Package.swift for what it owns.
