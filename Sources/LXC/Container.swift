import Glibc
import LXCConfig
import LXCInit
import LXCNetwork
import LXCRuntime
import LXCSystem

/// Why a container operation failed.
public enum ContainerError: Error, Sendable, CustomStringConvertible {
    case store(StoreError)
    case config([ConfigError])
    case plan(PlanError)
    case launch(LaunchError)
    case command(String, SyscallError)
    case timedOut(String)
    case network(String)

    public var description: String {
        switch self {
        case .store(let error): return error.description
        case .config(let errors): return errors.map(\.description).joined(separator: "\n")
        case .plan(let error): return error.description
        case .launch(let error): return error.description
        case .command(let what, let error): return "\(what): \(error)"
        case .timedOut(let what): return "\(what): timed out"
        case .network(let text): return text
        }
    }
}

/// A named container in an lxcpath, as LXC's `struct lxc_container`: any process may
/// create, start, query and stop it. A running container has a monitor process that serves
/// its command socket; every query goes there, so answers are the same from every process.
public final class Container: @unchecked Sendable {
    public let name: String
    public let lxcpath: String
    private let store: ContainerStore
    /// The notify listener of a foreground start of this object, while it runs.
    private let foregroundListener = SeccompListenerSlot()

    /// LXC's default lxcpath for root.
    public static let defaultLXCPath = "/var/lib/lxc"

    public init(name: String, lxcpath: String = Container.defaultLXCPath) {
        self.name = name
        self.lxcpath = lxcpath
        self.store = ContainerStore(lxcpath: lxcpath)
    }

    /// `<lxcpath>/<name>/config`.
    public var configPath: String { store.configPath(of: name) }

    /// Whether the container's config exists.
    public var isDefined: Bool { store.isDefined(name) }

    /// The state its monitor reports; STOPPED when no monitor answers.
    public var state: ContainerState {
        guard let reply = try? CommandClient.send(.state, lxcpath: lxcpath, name: name).reply,
            let text = reply.payload.first, let state = ContainerState(rawValue: text)
        else { return .stopped }
        return state
    }

    public var isRunning: Bool { state != .stopped }

    /// The init's pid as seen from this process's pid namespace; -1 when stopped.
    public var initPID: pid_t {
        guard let reply = try? CommandClient.send(.initPID, lxcpath: lxcpath, name: name).reply,
            let text = reply.payload.first, let pid = pid_t(text)
        else { return -1 }
        return pid
    }

    /// A pidfd for the container's init, from the monitor (LXC's `init_pidfd`).
    public func initPIDFD() throws(ContainerError) -> FileDescriptor {
        let answer: (reply: CommandMessage, descriptors: DescriptorList)
        do {
            answer = try CommandClient.send(.getInitPIDFD, lxcpath: lxcpath, name: name)
        } catch {
            throw .command("init pidfd of \(name)", error)
        }
        guard let fd = answer.descriptors.take(0) else {
            throw .command("init pidfd of \(name)", SyscallError(.EBADF, call: "recvmsg"))
        }
        return fd
    }

    // MARK: - Config

    /// The config as loaded from disk.
    public func loadConfiguration() throws(ContainerError) -> LXCConfiguration {
        guard isDefined else { throw .store(.notDefined(name)) }
        let (configuration, errors) = LXCConfiguration.check(contentsOf: configPath)
        if !errors.isEmpty { throw .config(errors) }
        return configuration
    }

    /// `get_config_item`.
    public func configItem(_ key: String) throws(ContainerError) -> String {
        do {
            return try loadConfiguration().get(key)
        } catch let error as ContainerError {
            throw error
        } catch {
            throw .config([error as? ConfigError].compactMap { $0 })
        }
    }

    // MARK: - Create, destroy, copy

    /// Creates the container: `items` become its config, then the rootfs comes from `rootfs`
    /// (a copied or in-place directory, or an LXC template such as `busybox`).
    public func create(
        rootfs: ContainerStore.RootfsSource, items: [(key: String, value: String)] = []
    ) throws(ContainerError) {
        var configuration = LXCConfiguration()
        for item in items {
            do {
                try configuration.set(item.key, item.value)
            } catch {
                throw .config([error])
            }
        }
        var info = stat()
        guard stat(lxcpath, &info) == 0 else { throw .store(.missingPath(lxcpath)) }
        let lock = try takeLock()
        defer { withExtendedLifetime(lock) {} }
        do {
            try store.create(name, configText: configuration.text, rootfs: rootfs)
        } catch {
            throw .store(error)
        }
    }

    /// Removes a stopped container and its rootfs.
    public func destroy() throws(ContainerError) {
        let lock = try takeLock()
        defer { withExtendedLifetime(lock) {} }
        guard !isRunning else { throw .store(.running(name)) }
        try runStoreHook("destroy", container: self)
        do {
            try store.destroy(name)
        } catch {
            throw .store(error)
        }
    }

    /// Copies a stopped container to `newName` in the same lxcpath (LXC's `clone` with copy).
    @discardableResult
    public func copy(to newName: String) throws(ContainerError) -> Container {
        let lock = try takeLock()
        defer { withExtendedLifetime(lock) {} }
        guard !isRunning else { throw .store(.running(name)) }
        let configuration = try configuration(movedTo: newName)
        do {
            try store.copy(name, to: newName, configText: configuration.text)
        } catch {
            throw .store(error)
        }
        let copy = Container(name: newName, lxcpath: lxcpath)
        try runStoreHook("clone", container: copy, extra: ["LXC_SRC_NAME=\(name)"])
        return copy
    }

    /// Renames a stopped container; its rootfs path and hostname follow when they were its own.
    @discardableResult
    public func rename(to newName: String) throws(ContainerError) -> Container {
        let lock = try takeLock()
        defer { withExtendedLifetime(lock) {} }
        guard !isRunning else { throw .store(.running(name)) }
        let configuration = try configuration(movedTo: newName)
        do {
            try store.rename(name, to: newName, configText: configuration.text)
        } catch {
            throw .store(error)
        }
        return Container(name: newName, lxcpath: lxcpath)
    }

    /// This container's config for a copy or new name: a rootfs inside the container's
    /// directory, and a hostname equal to its name, follow the new name.
    private func configuration(movedTo newName: String) throws(ContainerError)
        -> LXCConfiguration
    {
        var configuration = try loadConfiguration()
        let oldRoot = store.directory(of: name) + "/rootfs"
        let newRoot = store.directory(of: newName) + "/rootfs"
        do {
            let path = try configuration.get("lxc.rootfs.path")
            if path == "dir:" + oldRoot || path == oldRoot {
                try configuration.set("lxc.rootfs.path", "dir:" + newRoot)
            }
            if (try? configuration.get("lxc.uts.name")) == name {
                try configuration.set("lxc.uts.name", newName)
            }
        } catch {
            throw .config([error])
        }
        return configuration
    }

    /// The `clone` and `destroy` hooks of `container`'s config, run on the host.
    private func runStoreHook(_ stage: String, container: Container, extra: [String] = [])
        throws(ContainerError)
    {
        guard let configuration = try? container.loadConfiguration(),
            let model = try? ContainerConfig(lxc: configuration, name: container.name),
            model.hooks.lxc[stage] != nil
        else { return }
        var hooks = Planner.hookSet(model, name: container.name, rootfs: model.rootfs.path)
        hooks.environment.append("LXC_CONFIG_FILE=\(container.configPath)")
        do {
            try hooks.run(stage, extra: extra)
        } catch {
            throw .launch(.hook(error))
        }
    }

    private func takeLock() throws(ContainerError) -> FileDescriptor {
        do {
            try ContainerStore.validate(name)
            return try store.lock(name)
        } catch {
            throw .store(error)
        }
    }

    // MARK: - Start and stop

    /// Starts the container. Daemonized (the default), a detached monitor process starts and
    /// serves it, and this returns once it is RUNNING; in the foreground the monitor loop runs
    /// in this process and returns when the container stops.
    ///
    /// `command` replaces `lxc.init.cmd`; with `useInit` a minimal init stays as PID 1.
    public func start(command: [String]? = nil, useInit: Bool = false, daemonize: Bool = true)
        throws(ContainerError)
    {
        do {
            try ContainerStore.validate(name)
        } catch {
            throw .store(error)
        }
        guard isDefined else { throw .store(.notDefined(name)) }
        guard !isRunning else { throw .store(.running(name)) }
        // The config is loaded and planned once, by the monitor; its errors come back as text.
        if daemonize {
            try startMonitorProcess(command: command, useInit: useInit)
        } else {
            var failure: LaunchError?
            // As lxc-start -F shows the console, the caller's stdout gets the console output.
            _ = runMonitor(command: command, useInit: useInit, consoleMirror: 1) { failure = $0 }
            if let failure { throw .launch(failure) }
        }
    }

    /// The monitor loop of this container, run in the calling process (the hidden
    /// `swiftlxc __monitor` verb and foreground starts use it).
    /// `consoleMirror` is an fd that also receives the console's output, or -1.
    public func runMonitor(
        command: [String]?, useInit: Bool, consoleMirror: Int32 = -1,
        ready: (LaunchError?) -> Void
    ) -> TerminationStatus {
        let monitor = Monitor(lxcpath: lxcpath, name: name, sharedListener: foregroundListener) {
            () throws(LaunchError) in
            do {
                return try self.makeRequest(command: command, useInit: useInit)
            } catch {
                throw LaunchError.reported("\(error)")
            }
        }
        monitor.consoleMirror = consoleMirror
        return monitor.run(ready: ready)
    }

    func makeRequest(command: [String]?, useInit: Bool) throws(ContainerError) -> LaunchRequest {
        let configuration = try loadConfiguration()
        let model: ContainerConfig
        do {
            model = try ContainerConfig(lxc: configuration, name: name)
        } catch {
            throw .config([error])
        }
        do {
            return try Planner.launch(
                model, flavor: .lxc, arguments: command,
                initMode: useInit ? .minimalInit : .exec, lxcpath: lxcpath)
        } catch {
            throw .plan(error)
        }
    }

    private func startMonitorProcess(command: [String]?, useInit: Bool) throws(ContainerError) {
        let binary: String
        do {
            binary = try Launcher.locateExecutable("swiftlxc", environment: "SWIFTLXC_BIN")
        } catch {
            throw .launch(error)
        }
        var arguments = ["swiftlxc", "__monitor", "-P", lxcpath, "-n", name]
        if useInit { arguments.append("--use-init") }
        if let command { arguments += ["--"] + command }
        do {
            let ready = try Pipe()
            let null = try FileDescriptor.open("/dev/null", O_RDWR)
            let request = SpawnRequest(
                path: binary, arguments: arguments,
                environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                fileMap: [null.rawValue, null.rawValue, null.rawValue, ready.writeEnd.rawValue],
                newSession: true)
            // The spawned process forks the monitor and exits at once; reap it here.
            let status = try Spawn.run(request)
            let readEnd = ready.readEnd
            try ready.writeEnd.close()
            // One message, "ok" or "error <reason>", in one write. Reading to end of file
            // would wait on every process that inherited the pipe (the monitor's keeper).
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = try buffer.withUnsafeMutableBytes { bytes throws(SyscallError) in
                try readEnd.read(into: bytes)
            }
            let report = String(decoding: buffer[0..<count], as: UTF8.self)
            guard status == .exited(0), report.hasPrefix("ok") else {
                let reason =
                    report.hasPrefix("error ")
                    ? String(report.dropFirst(6))
                    : "the monitor \(status) without reporting"
                throw ContainerError.launch(.reported(reason))
            }
        } catch let error as ContainerError {
            throw error
        } catch {
            throw .command(
                "start \(name)", error as? SyscallError ?? SyscallError(.EIO, call: "spawn"))
        }
    }

    /// Kills the whole container and waits until it is STOPPED.
    public func stop(timeout: Int = 30) throws(ContainerError) {
        do {
            // Returns when the monitor has cleaned up and ended, or after `timeout`.
            _ = try CommandClient.send(
                .stop, lxcpath: lxcpath, name: name, waitingForExit: timeout)
        } catch {
            if error.errno == .ECONNREFUSED { throw .store(.notRunning(name)) }
            throw .command("stop \(name)", error)
        }
        guard wait(for: .stopped, timeout: timeout) else { throw .timedOut("stop \(name)") }
    }

    /// Sends `lxc.signal.halt` (SIGPWR by default) and waits up to `timeout` seconds for the
    /// container to stop; after that it is killed. Returns whether it stopped by itself.
    /// With `killOnTimeout` false it is left running, and a `timeout` of 0 does not wait and
    /// returns true once the signal is sent (LXC's `shutdown`).
    public func shutdown(timeout: Int, killOnTimeout: Bool = true) throws(ContainerError) -> Bool {
        let signal = try signalItem("lxc.signal.halt", default: SIGPWR)
        awaitHandler(of: signal, in: initPID)
        try send(signal: signal)
        if !killOnTimeout {
            return timeout == 0 || wait(for: .stopped, timeout: timeout)
        }
        if timeout != 0 && wait(for: .stopped, timeout: timeout) { return true }
        try? stop()
        return false
    }

    /// `reboot2`: sends `lxc.signal.reboot` (SIGINT by default); the container's init reboots,
    /// the kernel ends it with SIGHUP, and the monitor starts it again. With a timeout it
    /// returns once the container runs again with a new init: -1 waits indefinitely, 0 does
    /// not wait. A stopped container is not an error (LXC returns true).
    @discardableResult
    public func reboot(timeout: Int = 0) throws(ContainerError) -> Bool {
        let before = initPID
        guard before > 0 else { return true }
        let signal = try signalItem("lxc.signal.reboot", default: SIGINT)
        awaitHandler(of: signal, in: before)
        try send(signal: signal)
        if timeout == 0 { return true }
        let deadline = timeout < 0 ? Int.max : timeout * 1000
        var waited = 0
        while waited < deadline {
            let pid = initPID
            if pid > 0 && pid != before && state == .running { return true }
            usleep(10_000)
            waited += 10
        }
        return false
    }

    /// Waits until the container reaches `state`, from any process; `timeout` in seconds,
    /// -1 forever. Returns whether it was reached.
    public func wait(for state: ContainerState, timeout: Int) -> Bool {
        let deadline = timeout < 0 ? UInt64.max : UInt64(timeout) * 1_000_000_000
        let start = MonotonicClock.now()
        // From 1 ms up to 10 ms between looks: a state that comes soon is seen soon.
        var pause: UInt32 = 1000
        while true {
            if self.state == state { return true }
            if MonotonicClock.now() - start >= deadline { return false }
            usleep(pause)
            pause = min(pause * 2, 10_000)
        }
    }

    /// A duplicate of the seccomp notify listener held by this process (LXC's
    /// `seccomp_notify_fd`): only a foreground start of this object, whose monitor loop runs
    /// here, holds it, and only while the container runs. Throws EBADF otherwise: after a
    /// daemonized start the detached monitor holds it (`seccompNotifyFDActive` fetches it
    /// from there), and a filter without a notify rule has none.
    public func seccompNotifyFD() throws(ContainerError) -> FileDescriptor {
        let listener: FileDescriptor?
        do {
            listener = try foregroundListener.duplicate()
        } catch {
            throw .command("seccomp notify fd of \(name)", error)
        }
        switch consume listener {
        case .some(let fd): return fd
        case .none:
            throw .command(
                "seccomp notify fd of \(name): no listener in this process (only a foreground "
                    + "start of this object holds one, while its container runs)",
                SyscallError(.EBADF, call: "seccomp_notify_fd"))
        }
    }

    /// A duplicate of the seccomp notify listener, from the monitor (LXC's
    /// `seccomp_notify_fd_active`). ENOENT when the container's filter has no notify rule.
    public func seccompNotifyFDActive() throws(ContainerError) -> FileDescriptor {
        let answer: (reply: CommandMessage, descriptors: DescriptorList)
        do {
            answer = try CommandClient.send(.getSeccompNotifyFD, lxcpath: lxcpath, name: name)
        } catch {
            if error.errno == .ECONNREFUSED { throw .store(.notRunning(name)) }
            throw .command("seccomp notify fd of \(name)", error)
        }
        guard answer.reply.code == 0, let fd = answer.descriptors.take(0) else {
            throw .command(
                "seccomp notify fd of \(name)",
                SyscallError(
                    Errno(rawValue: -min(answer.reply.code, -Errno.EBADF.rawValue)),
                    call: "recvmsg"))
        }
        return fd
    }

    // MARK: - Console

    /// LXC's `console_log`: the container's console output kept in its ring buffer
    /// (`lxc.console.buffer.size`). With `read`, the oldest bytes, at most `limit` (0 for
    /// all), which leave the buffer; with `clear`, the buffer is emptied. An empty buffer
    /// reads as no bytes (LXC's ENODATA); a container without a ring buffer throws EFAULT,
    /// as LXC answers.
    public func consoleLog(read: Bool = true, clear: Bool = false, limit: UInt64 = 0)
        throws(ContainerError) -> [UInt8]
    {
        let what = "console log of \(name)"
        let answer: (reply: CommandMessage, descriptors: DescriptorList)
        do {
            answer = try CommandClient.send(
                .consoleLog, payload: [read ? "1" : "0", clear ? "1" : "0", String(limit)],
                lxcpath: lxcpath, name: name)
        } catch {
            if error.errno == .ECONNREFUSED { throw .store(.notRunning(name)) }
            throw .command(what, error)
        }
        let code = answer.reply.code
        if code == -ENODATA { return [] }
        guard code == 0 else {
            let reason = code == -EFAULT ? "no ring buffer (lxc.console.buffer.size is 0)" : nil
            throw .command(
                what, SyscallError(Errno(rawValue: -code), call: "console_log", object: reason))
        }
        guard let count = answer.reply.payload.first.flatMap({ Int($0) }), count > 0 else {
            return []
        }
        guard let memory = answer.descriptors.take(0) else {
            throw .command(
                what, SyscallError(.EBADF, call: "recvmsg", object: "no data descriptor"))
        }
        do {
            return try ProcessControl.contents(of: memory)
        } catch {
            throw .command(what, error)
        }
    }

    // MARK: - Network interfaces

    /// The container's network namespace, from its init.
    private func networkNamespace() throws(ContainerError) -> FileDescriptor {
        let pid = initPID
        guard pid > 0 else { throw .store(.notRunning(name)) }
        do {
            return try FileDescriptor.open("/proc/\(pid)/ns/net", O_RDONLY)
        } catch {
            throw .command("network namespace of \(name)", error)
        }
    }

    /// `get_interfaces`: the names of the container's network interfaces.
    public func interfaces() throws(ContainerError) -> [String] {
        let netns = try networkNamespace()
        do {
            return try NetworkInterfaces.interfaces(in: netns)
        } catch {
            throw .network(error.description)
        }
    }

    /// `get_ips`: addresses in the container, of one interface or all but `lo`, of a family
    /// (`inet`, `inet6`) or both; IPv6 filtered by scope (0 global, or a link's index).
    public func ips(interface: String? = nil, family: String? = nil, scope: Int32 = 0)
        throws(ContainerError) -> [String]
    {
        let netns = try networkNamespace()
        do {
            return try NetworkInterfaces.addresses(
                in: netns, interface: interface, family: family, scope: scope)
        } catch {
            throw .network(error.description)
        }
    }

    /// `attach_interface`: moves a host interface into the running container.
    public func attachInterface(_ device: String, as newName: String? = nil)
        throws(ContainerError)
    {
        let netns = try networkNamespace()
        do {
            try NetworkInterfaces.attach(device, as: newName, into: netns)
        } catch {
            throw .network(error.description)
        }
    }

    /// `detach_interface`: moves an interface of the container back to the host.
    public func detachInterface(_ device: String, as hostName: String? = nil)
        throws(ContainerError)
    {
        let netns = try networkNamespace()
        do {
            try NetworkInterfaces.detach(device, as: hostName, from: netns)
        } catch {
            throw .network(error.description)
        }
    }

    // MARK: - Cgroups

    /// Freezes every process of the container (v1 freezer or cgroup2 `cgroup.freeze`).
    public func freeze() throws(ContainerError) {
        try request(.freeze, [], what: "freeze \(name)")
    }

    /// Thaws a frozen container.
    public func unfreeze() throws(ContainerError) {
        try request(.unfreeze, [], what: "unfreeze \(name)")
    }

    /// `get_cgroup_item`: one cgroup file of the running container, such as `pids.max`.
    public func cgroupItem(_ file: String) throws(ContainerError) -> String {
        try request(.getCgroupItem, [file], what: "get \(file) of \(name)").first ?? ""
    }

    /// `set_cgroup_item`: writes one cgroup file of the running container.
    public func setCgroupItem(_ file: String, _ value: String) throws(ContainerError) {
        try request(.setCgroupItem, [file, value], what: "set \(file) of \(name)")
    }

    /// Memory, cpu, pids and io statistics as JSON.
    public func cgroupStatistics() throws(ContainerError) -> String {
        try request(.cgroupStats, [], what: "statistics of \(name)").first ?? "{}"
    }

    @discardableResult
    private func request(_ command: MonitorCommand, _ payload: [String], what: String)
        throws(ContainerError) -> [String]
    {
        let reply: CommandMessage
        do {
            reply = try CommandClient.send(
                command, payload: payload, lxcpath: lxcpath, name: name
            ).reply
        } catch {
            if error.errno == .ECONNREFUSED { throw .store(.notRunning(name)) }
            throw .command(what, error)
        }
        if reply.code < 0 {
            let reason =
                reply.payload.first.map {
                    SyscallError(
                        Errno(rawValue: -reply.code),
                        call: "cgroup", object: $0)
                }
                ?? SyscallError(
                    Errno(rawValue: -reply.code),
                    call: "cgroup")
            throw .command(what, reason)
        }
        return reply.payload
    }

    /// A pid-namespace init receives only signals it has a handler for, and a just-started
    /// init may not have installed it yet: the kernel would drop the signal. Waits up to two
    /// seconds for `signal` to show in the init's caught set (`SigCgt`).
    private func awaitHandler(of signal: Int32, in pid: pid_t) {
        guard pid > 0 else { return }
        for _ in 0..<200 {
            guard let status = try? FileContents.readText("/proc/\(pid)/status") else { return }
            let line = status.split(separator: "\n").first { $0.hasPrefix("SigCgt:") }
            let mask = line.flatMap {
                UInt64($0.dropFirst(7).filter { !$0.isWhitespace }, radix: 16)
            }
            if let mask, mask & (1 << UInt64(signal - 1)) != 0 { return }
            usleep(10_000)
        }
    }

    private func send(signal: Int32) throws(ContainerError) {
        do {
            let reply = try CommandClient.send(
                .signal, payload: [String(signal)], lxcpath: lxcpath, name: name
            ).reply
            if reply.code < 0 {
                throw ContainerError.command(
                    "signal \(name)", SyscallError(Errno(rawValue: -reply.code), call: "kill"))
            }
        } catch let error as ContainerError {
            throw error
        } catch {
            let error = error as? SyscallError ?? SyscallError(.EIO, call: "kill")
            if error.errno == .ECONNREFUSED { throw .store(.notRunning(name)) }
            throw .command("signal \(name)", error)
        }
    }

    private func signalItem(_ key: String, default value: Int32) throws(ContainerError) -> Int32 {
        guard let model = try? ContainerConfig(lxc: loadConfiguration(), name: name) else {
            return value
        }
        let number = key == "lxc.signal.halt" ? model.signals.halt : model.signals.reboot
        return number.map(Int32.init) ?? value
    }
}

/// Names of the containers in `lxcpath`: defined ones, active ones, or both.
public func listContainers(
    lxcpath: String = Container.defaultLXCPath, defined: Bool = true,
    active: Bool = true
) -> [String] {
    let store = ContainerStore(lxcpath: lxcpath)
    var names = Set<String>()
    if defined { names.formUnion(store.definedNames()) }
    if active { names.formUnion(store.activeNames()) }
    return names.sorted()
}
