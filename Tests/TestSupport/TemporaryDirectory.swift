import Glibc

/// A fresh directory under /tmp, removed with everything in it when the value is destroyed.
/// Every store test gets its own, so tests never share LMDB files.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "twofactord-tests") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: errno \(errno)")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    deinit {
        removeTree(path)
    }
}

/// Removes a file, or a directory and its contents. A symbolic link is removed, never followed.
public func removeTree(_ path: String) {
    var info = stat()
    if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) {
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            removeTree(path + "/" + name)
        }
        closedir(directory)
        rmdir(path)
    } else {
        unlink(path)
    }
}
