/// The command lines of `twofactor login` that ask for no help and hold no mistake, recognised without
/// ArgumentParser, whose reflection is most of the time a whole `twofactor login` process takes
/// (docs/performance.md): `twofactor [--socket PATH] login [--socket PATH] [--invert] USER`, with
/// `--socket=PATH` too, each option at most once, and PATH and USER neither empty nor starting with '-'.
/// Every other command line, help and each mistake included, goes to ArgumentParser; `QuickLoginTests`
/// check that both read every accepted command line alike.
struct QuickLoginArguments: Equatable {
    var socket: String?
    var invert = false
    var user: String
}

extension QuickLoginArguments {
    init?(_ arguments: some Sequence<String>) {
        var socket: String?
        var invert = false
        var user: String?
        var sawLogin = false
        var remaining = arguments.makeIterator()
        while let argument = remaining.next() {
            if argument == "--socket" || argument.hasPrefix("--socket=") {
                let value = argument == "--socket" ? remaining.next() : String(argument.dropFirst("--socket=".count))
                guard socket == nil, let value, Self.isPlainWord(value) else { return nil }
                socket = value
            } else if argument == "--invert" {
                guard sawLogin, !invert else { return nil }
                invert = true
            } else if !sawLogin {
                guard argument == "login" else { return nil }
                sawLogin = true
            } else {
                guard user == nil, Self.isPlainWord(argument) else { return nil }
                user = argument
            }
        }
        guard let user else { return nil }
        (self.socket, self.invert, self.user) = (socket, invert, user)
    }

    private static func isPlainWord(_ word: String) -> Bool { !word.isEmpty && !word.hasPrefix("-") }
}
