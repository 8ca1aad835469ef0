import CShim
import Glibc

/// A NULL-terminated `char *[]` built before a spawn, so the child allocates nothing.
public final class CStringArray {
    public let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    public let count: Int

    public init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() {
            pointers[index] = strdup(string)
        }
        pointers[strings.count] = nil
    }

    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}

/// What to start and how: the program, its arguments and environment, which of the caller's
/// descriptors become its 0, 1, 2…, and the namespaces it is born in.
public struct SpawnRequest: Sendable {
    public var path: String
    public var arguments: [String]
    public var environment: [String]
    /// `fileMap[i]` is the caller's fd that becomes fd `i` in the child; -1 leaves it closed.
    /// The caller keeps ownership; the fds must stay open until `spawn` returns.
    public var fileMap: [Int32]
    public var namespaces: NamespaceSet
    public var newSession: Bool
    /// Keep the calling thread's signal mask; by default the program starts with none blocked.
    public var keepSignalMask: Bool

    public init(
        path: String, arguments: [String], environment: [String] = [],
        fileMap: [Int32] = [0, 1, 2], namespaces: NamespaceSet = [], newSession: Bool = false,
        keepSignalMask: Bool = false
    ) {
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.fileMap = fileMap
        self.namespaces = namespaces
        self.newSession = newSession
        self.keepSignalMask = keepSignalMask
    }
}

/// Starts processes with the vfork-style routine of the C shim: `clone(CLONE_VM|CLONE_VFORK)`
/// and `execve` at once, so no Swift runs in the child and the cost does not grow with the
/// caller's memory. Safe to call from a multithreaded process.
public enum Spawn {
    /// Starts `request` and returns the child with its pidfd.
    ///
    /// Throws `clone` errors (a namespace the kernel refuses), `spawn setup` errors (the fd
    /// map) and `execve` errors (a missing or non-executable program), each naming the path.
    public static func start(_ request: SpawnRequest) throws(SyscallError) -> PIDFD {
        let argv = CStringArray(request.arguments)
        let envp = CStringArray(request.environment)
        var result = shim_spawn_result()
        let status = request.path.withCString { path in
            request.fileMap.withUnsafeBufferPointer { map in
                var shim = shim_spawn_request()
                shim.path = path
                shim.argv = UnsafePointer(argv.pointers)
                shim.envp = UnsafePointer(envp.pointers)
                shim.fd_map = map.baseAddress
                shim.fd_count = Int32(map.count)
                shim.clone_flags = request.namespaces.rawValue
                shim.flags =
                    (request.newSession ? SHIM_SPAWN_SETSID : 0)
                    | (request.keepSignalMask ? SHIM_SPAWN_KEEP_SIGMASK : 0)
                shim.want_pidfd = 1
                return shim_spawn(&shim, &result)
            }
        }
        withExtendedLifetime((argv, envp)) {}
        if status < 0 {
            throw SyscallError(
                Errno(rawValue: result.error), call: callName(result.stage), object: request.path)
        }
        return PIDFD(pid: result.pid, fd: FileDescriptor(owning: result.pidfd))
    }

    /// Starts `request`, waits for it and returns how it ended.
    public static func run(_ request: SpawnRequest) throws(SyscallError) -> TerminationStatus {
        try start(request).wait()
    }

    static func callName(_ stage: Int32) -> String {
        switch UInt32(stage) {
        case SHIM_SPAWN_STAGE_CLONE.rawValue: return "clone"
        case SHIM_SPAWN_STAGE_SETUP.rawValue: return "spawn setup"
        case SHIM_SPAWN_STAGE_EXEC.rawValue: return "execve"
        default: return "spawn"
        }
    }
}

/// A child that exists but waits just before its `execve` until released: the caller writes
/// its uid and gid maps first, which a program born in a new user namespace needs to keep its
/// capabilities there across the exec. Released or cancelled exactly once.
public final class HeldSpawn {
    /// The child's pid in the caller's pid namespace.
    public let pid: pid_t
    private var hold: OpaquePointer?
    // Everything the waiting child still reads lives as long as the hold.
    private let request: UnsafeMutablePointer<shim_spawn_request>
    private let path: UnsafeMutablePointer<CChar>
    private let argv: CStringArray
    private let envp: CStringArray
    private let fileMap: UnsafeMutableBufferPointer<Int32>
    private let programPath: String

    /// Creates the child in `request.namespaces`, held before its exec. With `becomeRoot` it
    /// switches to uid and gid 0 of its user namespace once released (the maps must map 0).
    public init(_ request: SpawnRequest, becomeRoot: Bool = false) throws(SyscallError) {
        programPath = request.path
        argv = CStringArray(request.arguments)
        envp = CStringArray(request.environment)
        path = strdup(request.path)
        fileMap = .allocate(capacity: max(1, request.fileMap.count))
        _ = fileMap.initialize(from: request.fileMap)
        self.request = .allocate(capacity: 1)
        self.request.initialize(to: shim_spawn_request())
        self.request.pointee.path = UnsafePointer(path)
        self.request.pointee.argv = UnsafePointer(argv.pointers)
        self.request.pointee.envp = UnsafePointer(envp.pointers)
        self.request.pointee.fd_map = UnsafePointer(fileMap.baseAddress)
        self.request.pointee.fd_count = Int32(request.fileMap.count)
        self.request.pointee.clone_flags = request.namespaces.rawValue
        self.request.pointee.flags =
            (request.newSession ? SHIM_SPAWN_SETSID : 0)
            | (request.keepSignalMask ? SHIM_SPAWN_KEEP_SIGMASK : 0)
            | (becomeRoot ? SHIM_SPAWN_BECOME_ROOT : 0)
        self.request.pointee.want_pidfd = 1

        var result = shim_spawn_result()
        var hold: OpaquePointer?
        if shim_spawn_held(self.request, &result, &hold) < 0 {
            let error = SyscallError(
                Errno(rawValue: result.error), call: Spawn.callName(result.stage),
                object: request.path)
            free(path)
            fileMap.deallocate()
            self.request.deallocate()
            throw error
        }
        self.hold = hold
        pid = result.pid
    }

    /// Lets the child exec and returns it as a `PIDFD`; throws the exec's error.
    public func release() throws(SyscallError) -> PIDFD {
        let result = finish(proceed: true)
        if result.error != 0 || result.pid < 0 {
            throw SyscallError(
                Errno(rawValue: result.error), call: Spawn.callName(result.stage),
                object: programPath)
        }
        return PIDFD(pid: result.pid, fd: FileDescriptor(owning: result.pidfd))
    }

    /// Ends the child without its exec and reaps it.
    public func cancel() {
        _ = finish(proceed: false)
    }

    private func finish(proceed: Bool) -> shim_spawn_result {
        var result = shim_spawn_result()
        guard let hold else { return result }
        self.hold = nil
        shim_spawn_release(hold, proceed ? 1 : 0, &result)
        return result
    }

    deinit {
        if hold != nil { cancel() }
        free(path)
        fileMap.deallocate()
        request.deallocate()
    }
}
