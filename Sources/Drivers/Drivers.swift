// Drivers module: see Package.swift for what it owns.
