// Drivers tests against the fleet emulator and the real helm binary.
