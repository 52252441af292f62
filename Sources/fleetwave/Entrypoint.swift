import FleetwaveCommands

@main struct Entrypoint {
  static func main() async { await FleetwaveCommand.run() }
}
