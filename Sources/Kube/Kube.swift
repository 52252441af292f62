// Kube module: see Package.swift for what it owns.
