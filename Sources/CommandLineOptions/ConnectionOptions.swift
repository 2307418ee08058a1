import ArgumentParser
import DaemonClient
import Glibc

/// The `--socket` option every client command shares. Declared with `@OptionGroup` on the root
/// command and on each subcommand, it is accepted before and after the subcommand's name: the root
/// parses it wherever it stands, and ArgumentParser hands the subcommand the root's value.
public struct ConnectionOptions: ParsableArguments {
    /// The environment variable that names the socket when `--socket` is not given.
    public static let environmentVariable = "TWOFACTORD_SOCKET"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The daemon's socket. Without this option, $TWOFACTORD_SOCKET (not read by the PAM and shell paths), "
                + "or else \(DaemonConnection.defaultSocketPath).",
            valueName: "path"
        )
    )
    public var socket: String?

    public init() {}

    /// The socket to connect to: `--socket`, else `$TWOFACTORD_SOCKET` when set and not empty,
    /// else the installed daemon's socket.
    public var socketPath: String { Self.socketPath(given: socket) }

    /// `socketPath` for a `--socket` value parsed elsewhere (nil: not given).
    public static func socketPath(given socket: String?) -> String {
        if let socket { return socket }
        if let value = getenv(environmentVariable), value.pointee != 0 { return String(cString: value) }
        return DaemonConnection.defaultSocketPath
    }

    /// The socket for callers that must not take it from the environment (a login shell or the
    /// PAM paths, where the environment belongs to the user being authenticated): `--socket`,
    /// else the installed daemon's socket.
    public var socketPathIgnoringEnvironment: String { Self.socketPathIgnoringEnvironment(given: socket) }

    /// `socketPathIgnoringEnvironment` for a `--socket` value parsed elsewhere (nil: not given).
    public static func socketPathIgnoringEnvironment(given socket: String?) -> String {
        socket ?? DaemonConnection.defaultSocketPath
    }
}
