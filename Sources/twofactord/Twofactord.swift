import ArgumentParser
import TwofactordCommand

/// twofactord with the LMDB store. A run that names a PostgreSQL store becomes `twofactord-postgres`.
@main
struct Twofactord: AsyncParsableCommand {
    static let configuration = DaemonProgram.configuration(commandName: "twofactord")

    @OptionGroup var program: DaemonProgram

    func run() async throws {
        try await program.run(fleetStore: nil)
    }
}
