// swift-tools-version:6.1
import PackageDescription

// The architecture at a glance: C libraries at the bottom, one module per job above them,
// executables that only parse arguments and wire modules together. Imports point down, and every
// import is a declared dependency (`make test` checks both ways; see PackageManifestTests).
//
// Linux only, so no `platforms` line: it can name only Apple systems, and the code needs glibc
// (SO_PEERCRED, LISTEN_FDS, the Glibc module) that none of them has.

// How release builds link the programs (measured in docs/performance.md, Idle memory). lld packs the
// position-independent binaries' relative relocations (`-z pack-relative-relocs`, which glibc 2.36
// reads): 40 KiB instead of the 2.7 MB the loader read at every start. `--no-export-dynamic` takes back
// the `-export-dynamic` of the static Swift runtime's link file: no plugin links against our symbols,
// and what looks them up at run time falls back when it finds none (the concurrency runtime then
// enqueues with libdispatch's `dispatch_async_f`). Together 3.8 MiB less in the idle daemon. The C++
// runtime and unwinder that the Swift runtime needs are linked in too: `link/` holds linker scripts named
// libstdc++.so and libgcc_s.so that name GCC's static archives, as Swift's own `-static-executable` links
// them. Loading libstdc++.so and resolving its symbols took almost half a millisecond at every start.
let releaseLinking: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
            "-L", Context.packageDirectory + "/link",
        ],
        .when(configuration: .release)
    )
]

let package = Package(
    name: "twofactord",
    products: [
        .executable(name: "twofactord", targets: ["twofactord"]),
        .executable(name: "twofactord-postgres", targets: ["twofactord-postgres"]),
        .executable(name: "twofactor", targets: ["twofactor"]),
        .executable(name: "twofactorctl", targets: ["twofactorctl"]),
        .executable(name: "twofactor-bench", targets: ["twofactor-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C at the edges: one system-library target per Debian library, one tiny C target for `struct ucred`,
        // one for glibc's `mallopt` (its <malloc.h> is not in Swift's Glibc module).
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CQREncode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .target(name: "CPeerCredentials"),
        .target(name: "CMallocArenas"),

        // Swift wrappers: the only importers of their C module.
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "OpenSSLCrypto", dependencies: ["COpenSSL"]),
        .target(name: "QRCode", dependencies: ["CQREncode"]),

        // Pure logic over bytes, time and values.
        .target(name: "OneTimePassword", dependencies: ["OpenSSLCrypto"]),
        .target(name: "PasswordHashing", dependencies: ["OpenSSLCrypto"]),
        .target(name: "Wire"),
        .target(name: "AccountStore", dependencies: ["OneTimePassword"]),
        .target(name: "Authentication", dependencies: ["AccountStore", "OneTimePassword"]),
        // twofactord.conf's format, and reading files only root or the daemon can have written.
        .target(name: "ConfigurationFile"),
        // The passwd and group databases, looked up with the reentrant calls.
        .target(name: "UserDatabase"),

        // Storage: the record encodings and the sealing of secrets that every backend shares, then the
        // backends, then the blocking service layer that the daemon drives.
        .target(name: "StoredRecords", dependencies: ["AccountStore", "OneTimePassword", "OpenSSLCrypto"]),
        .target(
            name: "LMDBAccountStore",
            dependencies: ["AccountStore", "LMDB", "OneTimePassword", "StoredRecords", "UserDatabase"]
        ),
        .target(
            name: "PostgresAccountStore",
            dependencies: [
                "AccountStore", "StoredRecords", "UserDatabase",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "AccountService",
            dependencies: [
                "AccountStore", "Authentication", "OneTimePassword", "PasswordHashing", "OpenSSLCrypto",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The server and the client.
        .target(
            name: "Daemon",
            dependencies: [
                "AccountService", "AccountStore", "Authentication", "ConfigurationFile", "OneTimePassword",
                "PasswordHashing", "QRCode", "Wire", "CPeerCredentials", "UserDatabase",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The protocol client (Wire only, so anything that just speaks the protocol links no terminal code
        // or libqrencode) and the terminal UI above it.
        .target(name: "DaemonClient", dependencies: ["Wire", "UserDatabase"]),
        .target(name: "CommandLineUI", dependencies: ["QRCode", "Wire"]),
        // What both CLIs share on the command line: --socket with $TWOFACTORD_SOCKET, subcommand typos.
        .target(
            name: "CommandLineOptions",
            dependencies: ["DaemonClient", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // The daemon's flags, settings and start: serving, or one maintenance job. The store a fleet shares
        // (PostgreSQL) comes from the program that runs it, so that `twofactord` links no PostgresNIO (and with
        // it no Foundation, CoreFoundation or ICU): see FleetStore.swift.
        .target(
            name: "TwofactordCommand",
            dependencies: [
                "Daemon", "AccountService", "AccountStore", "LMDBAccountStore", "StoredRecords", "PasswordHashing",
                "CMallocArenas",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Executables: argument parsing and wiring only.
        .executableTarget(
            name: "twofactord",
            dependencies: [
                "TwofactordCommand", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: releaseLinking
        ),
        .executableTarget(
            name: "twofactord-postgres",
            dependencies: [
                "TwofactordCommand", "PostgresAccountStore", "AccountStore", "StoredRecords",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: releaseLinking
        ),
        .executableTarget(
            name: "twofactor",
            dependencies: [
                "DaemonClient", "CommandLineUI", "QRCode", "Wire", "CommandLineOptions", "UserDatabase",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: releaseLinking
        ),
        .executableTarget(
            name: "twofactorctl",
            dependencies: [
                "DaemonClient", "CommandLineUI", "QRCode", "Wire", "CommandLineOptions", "UserDatabase",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: releaseLinking
        ),

        // The load generator (issue 9): a protocol client that creates accounts (or preloads them into a
        // fresh LMDB state directory), computes its own codes and measures the daemon. Its logic lives in a module; the executable only parses arguments.
        .target(
            name: "LoadGenerator",
            dependencies: [
                "DaemonClient", "Wire", "OneTimePassword", "AccountStore", "LMDBAccountStore", "StoredRecords",
                "PasswordHashing", "OpenSSLCrypto", "CommandLineUI",
            ]
        ),
        .executableTarget(
            name: "twofactor-bench",
            dependencies: ["LoadGenerator", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            linkerSettings: releaseLinking
        ),

        .target(name: "CSpawnCloseFrom", path: "Tests/CSpawnCloseFrom"),
        .target(
            name: "TestSupport",
            dependencies: ["CSpawnCloseFrom", "AccountStore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "TestSupport"]),
        .testTarget(name: "OpenSSLCryptoTests", dependencies: ["OpenSSLCrypto"]),
        .testTarget(name: "OneTimePasswordTests", dependencies: ["OneTimePassword", "TestSupport"]),
        .testTarget(name: "PasswordHashingTests", dependencies: ["PasswordHashing"]),
        .testTarget(name: "QRCodeTests", dependencies: ["QRCode"]),
        .testTarget(name: "UserDatabaseTests", dependencies: ["UserDatabase"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "TestSupport"]),
        .testTarget(
            name: "AccountStoreTests",
            dependencies: [
                "AccountStore", "LMDBAccountStore", "PostgresAccountStore", "StoredRecords", "LMDB", "OneTimePassword",
                "OpenSSLCrypto", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "AuthenticationTests", dependencies: ["Authentication", "AccountStore", "OneTimePassword"]),
        .testTarget(
            name: "AccountServiceTests",
            dependencies: [
                "AccountService", "LMDBAccountStore", "PostgresAccountStore", "StoredRecords", "AccountStore",
                "Authentication", "OneTimePassword", "PasswordHashing", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "Daemon", "Wire", "AccountService", "AccountStore", "Authentication", "LMDBAccountStore",
                "PasswordHashing", "TestSupport", "UserDatabase", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "DaemonClientTests", dependencies: ["DaemonClient", "Wire", "TestSupport"]),
        .testTarget(name: "CommandLineUITests", dependencies: ["CommandLineUI", "TestSupport"]),
        .testTarget(name: "ConfigurationFileTests", dependencies: ["ConfigurationFile", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Wire", "CommandLineUI", "TestSupport"]),
        .testTarget(name: "LoadGeneratorTests", dependencies: ["LoadGenerator", "OneTimePassword"]),
        .testTarget(
            name: "TwofactorClientTests",
            dependencies: [
                "twofactor", "TestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)
