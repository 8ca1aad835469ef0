import Glibc
import LXCInit
import LXCRuntime
import LXCSystem

// MARK: - Attach

/// LXC's `lxc_attach_options_t`: how a command runs in a running container.
public struct AttachOptions: Sendable {
    /// LXC's `env_policy`.
    public enum EnvironmentPolicy: Sendable {
        /// The caller's environment, with the container's (`lxc.environment`,
        /// `container=lxc`) set over it; the caller's `PATH` stays. LXC's default.
        case keep
        /// Only `keptVariables` of the caller's, then the container's (with LXC's `PATH`).
        case clear
    }

    /// LXC's `attach_flags` that SwiftLXC implements, with LXC's values.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Join the container's cgroups (the inner ones with `lxc.cgroup.dir.container.inner`).
        public static let moveToCgroup = Flags(rawValue: 0x1)
        /// Limit the bounding set as `lxc.cap.drop`/`lxc.cap.keep` do for the container.
        public static let dropCapabilities = Flags(rawValue: 0x2)
        /// Take the container's personality (`lxc.arch`).
        public static let setPersonality = Flags(rawValue: 0x4)
        /// Set `no_new_privs` (also set when the container has `lxc.no_new_privs`).
        public static let noNewPrivileges = Flags(rawValue: 0x40000)
        /// `LXC_ATTACH_DEFAULT`.
        public static let `default`: Flags = [.moveToCgroup, .dropCapabilities, .setPersonality]
    }

    /// The namespaces to join; nil joins every namespace the container has (LXC's -1).
    public var namespaces: NamespaceSet?
    /// A personality to use instead of the container's (with `.setPersonality`).
    public var personality: UInt?
    /// The user and group inside; nil takes `lxc.init.uid`/`lxc.init.gid` (0 by default).
    public var uid: UInt32?
    public var gid: UInt32?
    /// Supplementary groups; nil clears them.
    public var groups: [UInt32]?
    /// The working directory; nil keeps the caller's, or `/` when the container lacks it.
    public var cwd: String?
    public var environmentPolicy = EnvironmentPolicy.keep
    /// `NAME=value` set last (LXC's `extra_env_vars`).
    public var extraEnvironment: [String] = []
    /// Variables of the caller kept by `.clear` (LXC's `extra_keep_env`).
    public var keptVariables: [String] = []
    public var stdin: Int32 = 0
    public var stdout: Int32 = 1
    public var stderr: Int32 = 2
    public var flags = Flags.default

    public init() {}
}

/// A command running in a container, a child of the calling process (LXC's attached pid).
public struct AttachedProcess: ~Copyable, Sendable {
    public let process: PIDFD

    /// Its pid in the caller's pid namespace.
    public var pid: pid_t { process.pid }

    init(process: consuming PIDFD) {
        self.process = process
    }

    /// Waits for the command to end and reaps it.
    public func wait() throws(ContainerError) -> TerminationStatus {
        do {
            return try process.wait()
        } catch {
            throw .command("wait for the attached command", error)
        }
    }
}

extension Container {
    /// LXC's `attach` with `lxc_attach_run_command`: starts `command` (found on the
    /// container's `PATH`) in the running container and returns it once it has been
    /// executed. The calling process never changes namespaces: a helper does that, and the
    /// command becomes this process's child. A command that cannot be executed throws an
    /// error whose `exitStatus` is 127, naming the path.
    public func attach(_ command: [String], options: AttachOptions = .init())
        throws(ContainerError) -> AttachedProcess
    {
        let what = "attach to \(name)"
        let answer: (reply: CommandMessage, descriptors: DescriptorList)
        do {
            answer = try CommandClient.send(.attachContext, lxcpath: lxcpath, name: name)
        } catch {
            if error.errno == .ECONNREFUSED || error.errno == .ENOENT {
                throw .store(.notRunning(name))
            }
            throw .command(what, error)
        }
        if answer.reply.code < 0 {
            throw .command(
                what,
                SyscallError(
                    Errno(rawValue: -answer.reply.code), call: "attach helper",
                    object: answer.reply.payload.first))
        }
        guard let binary = answer.descriptors.take(0), let initPIDFD = answer.descriptors.take(1),
            let memory = answer.descriptors.take(2),
            let defaults = try? AttachDefaults(decoding: ProcessControl.contents(of: memory))
        else {
            throw .command(what, SyscallError(.EIO, call: "recvmsg", object: "attach context"))
        }

        var plan = AttachPlan(
            namespaces: options.namespaces ?? NamespaceSet(Namespace.allCases),
            arguments: command.isEmpty ? ["/bin/sh"] : command)
        plan.uid = options.uid ?? defaults.uid
        plan.gid = options.gid ?? defaults.gid
        plan.groups = options.groups
        if let cwd = options.cwd {
            plan.cwd = cwd
            plan.cwdRequired = true
        } else {
            plan.cwd = Container.currentDirectory() ?? "/"
        }
        plan.environment = Container.attachEnvironment(options, container: defaults.environment)
        if options.flags.contains(.dropCapabilities) { plan.bounding = defaults.bounding }
        if options.flags.contains(.setPersonality) {
            plan.personality = options.personality ?? defaults.personality
        }
        plan.noNewPrivileges =
            options.flags.contains(.noNewPrivileges) || defaults.noNewPrivileges
        plan.seccompProgram = defaults.seccompProgram
        plan.seccompFlags = defaults.seccompFlags

        var request = AttachRequest(plan: plan)
        request.stdio = [options.stdin, options.stdout, options.stderr]
        if options.flags.contains(.moveToCgroup) {
            request.cgroupDirectories = defaults.cgroupDirectories
        }
        do {
            let process = try Attacher.attach(request, binary: binary, initPIDFD: initPIDFD) {
                listener in
                // The monitor serves the command's notifications with the init's (proxy or
                // ENOSYS); without a monitor to take it, the command's calls would wait.
                do {
                    _ = try CommandClient.send(
                        .addSeccompListener, descriptors: [listener.rawValue], lxcpath: lxcpath,
                        name: name)
                } catch {
                    Logger("attach").warn("seccomp listener of an attached command: \(error)")
                }
            }
            return AttachedProcess(process: process)
        } catch {
            throw .launch(error)
        }
    }

    /// LXC's `attach_run_wait`: runs `command` in the container and returns how it ended.
    public func runAttached(_ command: [String], options: AttachOptions = .init())
        throws(ContainerError) -> TerminationStatus
    {
        try attach(command, options: options).wait()
    }

    /// LXC's attach environment: the caller's (all of it, or only the kept variables), the
    /// container's over it, then the extra variables.
    public static func attachEnvironment(_ options: AttachOptions, container: [String]) -> [String]
    {
        var result: [(String, String)] = []
        func set(_ entry: String, overwrite: Bool = true) {
            let name = String(entry.split(separator: "=", maxSplits: 1).first ?? "")
            guard !name.isEmpty else { return }
            if let index = result.firstIndex(where: { $0.0 == name }) {
                if overwrite { result[index].1 = entry }
            } else {
                result.append((name, entry))
            }
        }
        let caller = callerEnvironment()
        switch options.environmentPolicy {
        case .keep:
            for entry in caller { set(entry) }
            // The caller's PATH is kept; the container's other variables are set over it.
            for entry in container { set(entry, overwrite: !entry.hasPrefix("PATH=")) }
        case .clear:
            for entry in caller {
                let name = String(entry.split(separator: "=", maxSplits: 1).first ?? "")
                if options.keptVariables.contains(name) { set(entry) }
            }
            for entry in container { set(entry) }
            set(
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                overwrite: false)
        }
        set("container=lxc", overwrite: false)
        for entry in options.extraEnvironment { set(entry) }
        return result.map(\.1)
    }

    private static func callerEnvironment() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }

    private static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(cString: buffer)
    }
}

extension ContainerError {
    /// The status a command line exits with: 127 when the command could not be executed
    /// (126 when it exists but could not be run, as LXC's attach reports), else 1.
    public var exitStatus: Int32 {
        guard case .launch(let error) = self else { return 1 }
        if case .container(let failure) = error, failure.isExecFailure,
            failure.errno != Errno.ENOENT.rawValue
        {
            return 126
        }
        return error.exitStatus
    }
}
