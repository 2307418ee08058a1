import Glibc
import TestSupport
import Testing

@testable import CommandLineUI

private func pipePair() -> (read: Int32, write: Int32) {
    var descriptors: [Int32] = [0, 0]
    precondition(pipe(&descriptors) == 0)
    return (descriptors[0], descriptors[1])
}

private func writeString(_ text: String, to descriptor: Int32) {
    let bytes = Array(text.utf8)
    precondition(write(descriptor, bytes, bytes.count) == bytes.count)
}

/// Everything readable from `descriptor` right now, without blocking.
private func drain(_ descriptor: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 256)
    while true {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 100) == 1 else { return bytes }
        let count = read(descriptor, &chunk, chunk.count)
        guard count > 0 else { return bytes }
        bytes += chunk[0..<count]
    }
}

@Test func readLine_stripsNewlinesAndReturnsNilAtEnd() {
    let (input, output) = pipePair()
    defer { close(input) }
    writeString("first\r\nsecond\n\nlast", to: output)
    close(output)
    #expect(Terminal.readLine(from: input) == Array("first".utf8))
    #expect(Terminal.readLine(from: input) == Array("second".utf8))
    #expect(Terminal.readLine(from: input) == [])
    #expect(Terminal.readLine(from: input) == Array("last".utf8))
    #expect(Terminal.readLine(from: input) == nil)
}

@Test func readSecret_fromAPipe_promptsAndReadsOneLine() {
    let (input, inputWriter) = pipePair()
    let (promptReader, promptOutput) = pipePair()
    defer {
        close(input)
        close(promptReader)
        close(promptOutput)
    }
    writeString("s3cret\nnext\n", to: inputWriter)
    close(inputWriter)
    #expect(Terminal.readSecret(prompt: "Password: ", input: input, output: promptOutput) == Array("s3cret".utf8))
    #expect(drain(promptReader) == Array("Password: ".utf8))
    #expect(Terminal.readLine(from: input) == Array("next".utf8))
}

/// A libc function Swift's Glibc module hides behind _XOPEN_SOURCE, looked up at run time.
private func libcFunction<T>(_ name: String, as _: T.Type) -> T {
    unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)!, to: T.self)
}

@Test func readSecret_onATerminal_doesNotEchoAndRestoresTheMode() throws {
    let posixOpenpt = libcFunction("posix_openpt", as: (@convention(c) (Int32) -> Int32).self)
    let unlockpt = libcFunction("unlockpt", as: (@convention(c) (Int32) -> Int32).self)
    let ptsname = libcFunction("ptsname", as: (@convention(c) (Int32) -> UnsafeMutablePointer<CChar>?).self)
    // A pseudo-terminal is a real terminal: the line discipline echoes exactly as a console would.
    let master = posixOpenpt(O_RDWR | O_NOCTTY)
    try #require(master >= 0)
    defer { close(master) }
    try #require(unlockpt(master) == 0)
    let name = try #require(ptsname(master))
    let follower = open(name, O_RDWR | O_NOCTTY)
    try #require(follower >= 0)
    defer { close(follower) }

    var before = termios()
    tcgetattr(follower, &before)
    #expect(before.c_lflag & tcflag_t(ECHO) != 0)

    // Type only once echo is off, as a person would after seeing the prompt.
    let typist = startThread {
        var mode = termios()
        repeat {
            usleep(1000)
            tcgetattr(follower, &mode)
        } while mode.c_lflag & tcflag_t(ECHO) != 0
        let bytes = Array("hunter2\n".utf8)
        _ = write(master, bytes, bytes.count)
    }
    let secret = Terminal.readSecret(prompt: "Password: ", input: follower, output: follower)
    pthread_join(typist, nil)

    #expect(secret == Array("hunter2".utf8))
    let shown = String(decoding: drain(master), as: UTF8.self)
    #expect(shown.hasPrefix("Password: "))
    #expect(!shown.contains("hunter2"))
    var after = termios()
    tcgetattr(follower, &after)
    #expect(after.c_lflag == before.c_lflag)
}
