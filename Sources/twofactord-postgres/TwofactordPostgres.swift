import ArgumentParser
import TwofactordCommand

/// twofactord with the PostgreSQL store linked in, which `twofactord` runs for `--store postgresql://...`
/// and `--copy-store-to postgresql://...`; it serves LMDB too.
@main
struct TwofactordPostgres: AsyncParsableCommand {
    static let configuration = DaemonProgram.configuration(commandName: "twofactord-postgres")

    @OptionGroup var program: DaemonProgram

    func run() async throws {
        try await program.run(fleetStore: PostgresFleetStore.self)
    }
}
