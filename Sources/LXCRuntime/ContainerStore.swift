import Glibc
import LXCSystem

/// Errors of the container store, each naming the container and what was wrong.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidName(String)
    case missingPath(String)
    case notDefined(String)
    case alreadyDefined(String)
    case running(String)
    case notRunning(String)
    case templateNotFound(String)
    case failed(String, SyscallError)
    case commandFailed(String, TerminationStatus)

    public var description: String {
        switch self {
        case .invalidName(let name): return "invalid container name \(name)"
        case .missingPath(let path): return "lxcpath \(path) does not exist"
        case .notDefined(let name): return "container \(name) is not defined"
        case .alreadyDefined(let name): return "container \(name) already exists"
        case .running(let name): return "container \(name) is running"
        case .notRunning(let name): return "container \(name) is not running"
        case .templateNotFound(let name): return "template \(name) not found"
        case .failed(let what, let error): return "\(what): \(error)"
        case .commandFailed(let what, let status): return "\(what) \(status)"
        }
    }
}

/// Containers in an lxcpath: `<lxcpath>/<name>/config` and, by default, its `rootfs`.
public struct ContainerStore: Sendable {
    public let lxcpath: String

    public init(lxcpath: String) {
        self.lxcpath =
            lxcpath.count > 1 && lxcpath.hasSuffix("/")
            ? String(lxcpath.dropLast()) : lxcpath
    }

    /// Refuses names LXC refuses: empty, `.`/`..`, or containing `/`.
    public static func validate(_ name: String) throws(StoreError) {
        if name.isEmpty || name == "." || name == ".." || name.contains("/")
            || name.utf8.count > 200
        {
            throw .invalidName(name)
        }
    }

    public func directory(of name: String) -> String { "\(lxcpath)/\(name)" }
    public func configPath(of name: String) -> String { "\(lxcpath)/\(name)/config" }

    /// Whether `<lxcpath>/<name>/config` exists.
    public func isDefined(_ name: String) -> Bool {
        access(configPath(of: name), F_OK) == 0
    }

    /// Names of defined containers, sorted.
    public func definedNames() -> [String] {
        guard let directory = opendir(lxcpath) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." && isDefined(name) { names.append(name) }
        }
        return names.sorted()
    }

    /// Names whose monitor socket is bound, from `/proc/net/unix`, sorted.
    public func activeNames() -> [String] {
        let table = (try? FileContents.readText("/proc/net/unix")) ?? ""
        let prefix = "@\(lxcpath)/"
        var names = Set<String>()
        for line in table.split(separator: "\n") {
            guard let path = line.split(separator: " ").last, path.hasPrefix(prefix),
                path.hasSuffix("/command")
            else { continue }
            let name = path.dropFirst(prefix.count).dropLast("/command".count)
            if !name.contains("/") { names.insert(String(name)) }
        }
        return names.sorted()
    }

    /// Takes the container's lock (`flock` on `<lxcpath>/.<name>.lock`), waiting for it.
    /// Several processes and threads serialise their changes to one container through it.
    public func lock(_ name: String) throws(StoreError) -> FileDescriptor {
        let path = "\(lxcpath)/.\(name).lock"
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
        } catch {
            throw .failed("lock \(name)", error)
        }
        while flock(fd.rawValue, LOCK_EX) < 0 {
            if Errno.current != .EINTR {
                throw .failed("lock \(name)", SyscallError(.current, call: "flock", object: path))
            }
        }
        return fd
    }

    /// Where a new container's root filesystem comes from.
    public enum RootfsSource: Sendable {
        /// Copied from a directory into `<lxcpath>/<name>/rootfs`.
        case copy(String)
        /// Used where it is.
        case inPlace(String)
        /// Made by an LXC template program, by name (`busybox`) or path, with extra args.
        case template(String, [String])
        /// No root filesystem (the config names one).
        case none
    }

    /// Creates `<lxcpath>/<name>` with `configText` as its config and the rootfs from
    /// `source`. A template appends its own items to the config, as LXC's do.
    public func create(_ name: String, configText: String, rootfs source: RootfsSource)
        throws(StoreError)
    {
        try ContainerStore.validate(name)
        var info = stat()
        guard stat(lxcpath, &info) == 0 else { throw .missingPath(lxcpath) }
        guard !isDefined(name) else { throw .alreadyDefined(name) }
        let directory = directory(of: name)
        if mkdir(directory, 0o750) < 0 && Errno.current != .EEXIST {
            throw .failed(
                "create \(name)", SyscallError(.current, call: "mkdir", object: directory))
        }
        do throws(StoreError) {
            var text = configText
            switch source {
            case .copy(let from):
                try run(["/bin/cp", "-a", from, directory + "/rootfs"], "copy of \(from)")
                text += "lxc.rootfs.path = dir:\(directory)/rootfs\n"
            case .inPlace(let path):
                text += "lxc.rootfs.path = dir:\(path)\n"
            case .template, .none:
                break
            }
            do {
                try FileContents.write(
                    text, to: configPath(of: name), flags: O_WRONLY | O_CREAT | O_TRUNC)
            } catch {
                throw .failed("write the config of \(name)", error)
            }
            if case .template(let template, let extra) = source {
                let program = try ContainerStore.templatePath(template)
                try run(
                    [
                        program, "--path", directory, "--name", name, "--rootfs",
                        directory + "/rootfs",
                    ] + extra, "template \(template)")
            }
        } catch {
            _ = try? run(["/bin/rm", "-rf", directory], "cleanup")
            throw error
        }
    }

    /// Removes `<lxcpath>/<name>` and everything in it. The container must be stopped.
    public func destroy(_ name: String) throws(StoreError) {
        try ContainerStore.validate(name)
        guard isDefined(name) else { throw .notDefined(name) }
        try run(["/bin/rm", "-rf", directory(of: name)], "destroy \(name)")
        unlink("\(lxcpath)/.\(name).lock")
    }

    /// Copies a stopped container to `newName`, its rootfs included when it lives inside the
    /// container's directory; the copy's rootfs path and hostname follow the new name.
    public func copy(_ name: String, to newName: String, configText: String) throws(StoreError) {
        try ContainerStore.validate(newName)
        guard isDefined(name) else { throw .notDefined(name) }
        guard !isDefined(newName) else { throw .alreadyDefined(newName) }
        try run(["/bin/cp", "-a", directory(of: name), directory(of: newName)], "copy \(name)")
        do {
            try FileContents.write(
                configText, to: configPath(of: newName), flags: O_WRONLY | O_CREAT | O_TRUNC)
        } catch {
            throw .failed("write the config of \(newName)", error)
        }
    }

    /// Renames a stopped container's directory.
    public func rename(_ name: String, to newName: String, configText: String) throws(StoreError) {
        try ContainerStore.validate(newName)
        guard isDefined(name) else { throw .notDefined(name) }
        guard !isDefined(newName) else { throw .alreadyDefined(newName) }
        if Glibc.rename(directory(of: name), directory(of: newName)) < 0 {
            throw .failed("rename \(name)", SyscallError(.current, call: "rename", object: name))
        }
        do {
            try FileContents.write(
                configText, to: configPath(of: newName), flags: O_WRONLY | O_CREAT | O_TRUNC)
        } catch {
            throw .failed("write the config of \(newName)", error)
        }
    }

    /// A template by path, or LXC's `lxc-<name>` in its template directory.
    public static func templatePath(_ template: String) throws(StoreError) -> String {
        if template.contains("/") {
            guard access(template, X_OK) == 0 else { throw .templateNotFound(template) }
            return template
        }
        for directory in ["/usr/share/lxc/templates", "/usr/local/share/lxc/templates"] {
            let path = "\(directory)/lxc-\(template)"
            if access(path, X_OK) == 0 { return path }
        }
        throw .templateNotFound(template)
    }

    private func run(_ arguments: [String], _ what: String) throws(StoreError) {
        let status: TerminationStatus
        do {
            let null = try FileDescriptor.open("/dev/null", O_RDWR)
            status = try Spawn.run(
                SpawnRequest(
                    path: arguments[0], arguments: arguments,
                    environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                    fileMap: [null.rawValue, null.rawValue, 2]))
        } catch {
            throw .failed(what, error)
        }
        guard status == .exited(0) else { throw .commandFailed(what, status) }
    }
}
