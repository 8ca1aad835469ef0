import Glibc
import LXCCapabilities
import LXCInit
import LXCSystem

/// What a running container's monitor tells an attaching process besides the helper binary
/// and the init's pidfd: the cgroups to join, and the container's identity, capability,
/// personality, seccomp and environment settings, which LXC's attach applies by default.
public struct AttachDefaults: Sendable, Equatable {
    /// `ContainerCgroup.attachDirectories`: one per hierarchy (the inner cgroups when
    /// `lxc.cgroup.dir.container.inner` is set).
    public var cgroupDirectories: [String] = []
    /// `lxc.init.uid` and `lxc.init.gid`.
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    /// The bounding set `lxc.cap.drop`/`lxc.cap.keep` leave; nil when the config keeps all.
    public var bounding: CapabilitySet?
    /// `lxc.arch`.
    public var personality: UInt?
    /// `lxc.no_new_privs`.
    public var noNewPrivileges = false
    /// The container's environment (`lxc.environment`, with LXC's `PATH` and `container`).
    public var environment: [String] = []
    public var seccompProgram: [UInt8] = []
    public var seccompFlags: UInt32 = 0

    public init() {}

    /// The defaults of a container started from `plan`, in `cgroupDirectories`.
    public init(plan: ContainerPlan, cgroupDirectories: [String]) {
        self.cgroupDirectories = cgroupDirectories
        uid = plan.uid
        gid = plan.gid
        bounding = plan.capabilities?.bounding
        personality = plan.personality
        noNewPrivileges = plan.noNewPrivileges
        environment = plan.environment
        seccompProgram = plan.seccompProgram
        seccompFlags = plan.seccompFlags
    }

    /// The defaults' wire form; the monitor sends it in a sealed memfd.
    public var encoded: [UInt8] {
        var w = WireWriter()
        w.write(cgroupDirectories)
        w.write(uid)
        w.write(gid)
        w.write(bounding != nil)
        w.write(bounding?.mask ?? 0)
        w.write(personality != nil)
        w.write(personality ?? 0)
        w.write(noNewPrivileges)
        w.write(environment)
        w.append(bytes: seccompProgram)
        w.write(seccompFlags)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        cgroupDirectories = try r.readStrings()
        uid = try r.readUInt32()
        gid = try r.readUInt32()
        let hasBounding = try r.readBool()
        let mask = try r.readUInt64()
        bounding = hasBounding ? CapabilitySet(mask: mask) : nil
        let hasPersonality = try r.readBool()
        let persona = try r.readUInt()
        personality = hasPersonality ? persona : nil
        noNewPrivileges = try r.readBool()
        environment = try r.readStrings()
        seccompProgram = try r.readBytes()
        seccompFlags = try r.readUInt32()
    }
}

/// One attach: the plan for the helper, the caller's stdio, the cgroups to join.
public struct AttachRequest: Sendable {
    public var plan: AttachPlan
    /// The caller's fds that become the command's 0, 1 and 2.
    public var stdio: [Int32] = [0, 1, 2]
    /// The helper joins these cgroups (their `cgroup.procs`) before it does anything.
    public var cgroupDirectories: [String] = []

    public init(plan: AttachPlan) {
        self.plan = plan
    }
}

/// Runs a command in a running container without changing the calling process: a helper
/// (`swiftlxc-init` in its attach mode, executed from the monitor's sealed memfd copy) is
/// spawned vfork-style, placed in the container's cgroups while it waits, joins the
/// namespaces and starts the command as the caller's child.
public enum Attacher {
    /// Starts `request` in the container of `initPIDFD` and returns the command's pidfd
    /// once it has been executed. Throws `LaunchError.container` with the step that failed
    /// (an `exec` step for a missing command: status 127), after reaping the command.
    ///
    /// When the container's filter has notify rules, the command loads it with a listener of
    /// its own, which `serveListener` receives (to hand to the monitor) before this returns.
    /// With `plan.terminal` the command allocates its pty inside the container, and
    /// `receiveTerminal` gets the controller and the peer's name there before this returns.
    public static func attach(
        _ request: AttachRequest, binary: borrowing FileDescriptor,
        initPIDFD: borrowing FileDescriptor,
        serveListener: (borrowing FileDescriptor) -> Void = { _ in },
        receiveTerminal: (consuming FileDescriptor, String) -> Void = { _, _ in }
    ) throws(LaunchError) -> PIDFD {
        let pair: SocketPair
        do {
            pair = try SocketPair()
        } catch {
            throw .host(step: "create the sync socket", error)
        }
        // The spawned child maps its fds 0…4 with dup2: the binary must sit above them so
        // that /proc/self/fd/N still names it at the execve.
        let fileMap = request.stdio + [pair.second.rawValue, initPIDFD.rawValue]
        var binaryFD = binary.rawValue
        var moved: FileDescriptor?
        if binaryFD < Int32(fileMap.count) {
            do {
                let copy = try binary.duplicate(atLeast: Int32(fileMap.count))
                binaryFD = copy.rawValue
                moved = consume copy
            } catch {
                throw .host(step: "duplicate the attach binary", error)
            }
        }
        let spawn = SpawnRequest(
            path: "/proc/self/fd/\(binaryFD)", arguments: [attachModeArgument0],
            environment: [], fileMap: fileMap)
        let helper: PIDFD
        do {
            helper = try Spawn.start(spawn)
        } catch {
            throw .spawn(error)
        }
        _ = moved
        let socket = pair.first
        _ = consume pair.second

        var commandFD: FileDescriptor?
        var listenerFD: FileDescriptor?
        var terminalFD: FileDescriptor?
        var terminalPath = ""
        var failure: StageFailure?
        do throws(LaunchError) {
            // The helper waits for its plan: nothing of it runs before it is placed.
            for directory in request.cgroupDirectories {
                do {
                    try FileContents.write(String(helper.pid), to: directory + "/cgroup.procs")
                } catch {
                    throw LaunchError.host(step: "join the container's cgroup", error)
                }
            }
            do {
                try socket.send(request.plan.encoded())
            } catch {
                throw LaunchError.host(step: "send to the attach helper", error)
            }
            // `ready` (with the command's pidfd) from the helper and `failed` from either
            // side, in any order; end of file once the helper is gone and the command has
            // executed (its end is close-on-exec).
            while true {
                let message: (bytes: [UInt8], descriptors: DescriptorList)
                do {
                    let received = try socket.receive(capacity: 65536, maxDescriptors: 1)
                    message = (received.bytes, received.descriptors)
                } catch {
                    throw LaunchError.host(step: "receive from the attach helper", error)
                }
                if message.bytes.isEmpty { break }
                switch try? SyncMessage(decoding: message.bytes) {
                case .ready?: commandFD = message.descriptors.take(0)
                case .seccompListener?: listenerFD = message.descriptors.take(0)
                case .terminal(let path)?:
                    terminalFD = message.descriptors.take(0)
                    terminalPath = path
                case .failed(let reported)?: failure = failure ?? reported
                default: throw LaunchError.protocolError("unexpected attach message")
                }
            }
        } catch {
            try? helper.signal(SIGKILL)
            _ = try? helper.wait()
            if let fd = commandFD.take() {
                let command = PIDFD(pid: -1, fd: fd)
                try? command.signal(SIGKILL)
                _ = try? command.wait()
            }
            throw error
        }
        let helperStatus = (try? helper.wait()) ?? .exited(-1)
        guard let commandFD else {
            if let failure { throw .container(failure) }
            throw .stageDied(helperStatus)
        }
        if let failure {
            reap(commandFD)
            throw .container(failure)
        }
        if let listener = listenerFD.take() { serveListener(listener) }
        if let terminal = terminalFD.take() { receiveTerminal(terminal, terminalPath) }
        let pid = pidOf(commandFD)
        return PIDFD(pid: pid, fd: commandFD)
    }

    /// Waits for and reaps the command of a failed attach (it exits at once).
    private static func reap(_ fd: borrowing FileDescriptor) {
        var info = siginfo_t()
        _ = waitid(idtype_t(rawValue: 3), id_t(fd.rawValue), &info, WEXITED)
    }

    /// The pid a pidfd stands for in this process's pid namespace (`Pid:` of its fdinfo).
    static func pidOf(_ fd: borrowing FileDescriptor) -> pid_t {
        guard let text = try? FileContents.readText("/proc/self/fdinfo/\(fd.rawValue)") else {
            return -1
        }
        for line in text.split(separator: "\n") where line.hasPrefix("Pid:") {
            return pid_t(line.dropFirst(4).filter { !$0.isWhitespace }) ?? -1
        }
        return -1
    }
}
