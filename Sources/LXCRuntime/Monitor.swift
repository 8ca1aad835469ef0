import Glibc
import LXCCgroups
import LXCConsole
import LXCSeccomp
import LXCSystem
import Synchronization

/// LXC's container states.
public enum ContainerState: String, Sendable, CaseIterable {
    case stopped = "STOPPED"
    case starting = "STARTING"
    case running = "RUNNING"
    case stopping = "STOPPING"
    case aborting = "ABORTING"
    case freezing = "FREEZING"
    case frozen = "FROZEN"
    case thawed = "THAWED"
}

/// The seccomp notify listener of a container whose monitor loop runs in this process, for
/// the caller's other threads (LXC's `seccomp_notify_fd` after a foreground start). The
/// monitor publishes each launch's listener and withdraws it before closing it, so a
/// duplicate is never taken of a number that has been closed or reused.
public final class SeccompListenerSlot: Sendable {
    private struct Slot {
        var fd: Int32 = -1
        var handedOut = false
    }
    private let slot = Mutex(Slot())

    public init() {}

    func publish(_ fd: Int32) {
        slot.withLock { $0 = Slot(fd: fd) }
    }

    func withdraw() {
        slot.withLock { $0 = Slot() }
    }

    /// Whether a caller took the published listener: it serves the notifications now.
    var wasHandedOut: Bool { slot.withLock { $0.handedOut } }

    /// A close-on-exec duplicate of the published listener (`fcntl(F_DUPFD_CLOEXEC)`), or nil
    /// when none is published: no monitor loop runs here, the container has stopped, or its
    /// filter has no notify rule.
    public func duplicate() throws(SyscallError) -> FileDescriptor? {
        try slot.withLock { slot throws(SyscallError) -> FileDescriptor? in
            guard slot.fd >= 0 else { return nil }
            let copy = FileDescriptor(
                owning: try check(fcntl(slot.fd, F_DUPFD_CLOEXEC, 0), "fcntl F_DUPFD_CLOEXEC"))
            slot.handedOut = true
            return copy
        }
    }
}

/// The per-container monitor: it starts the container, owns its init's pidfd, serves the
/// command socket, restarts the container when its init reboots, and cleans up when it ends.
///
/// It is a plain poll loop on one thread. When the monitor is killed, a keeper process it
/// left behind kills the container and removes its cgroups and network devices, so a
/// container never outlives the process that can answer for it; the abstract socket
/// disappears with the monitor, and the store reads STOPPED.
public final class Monitor {
    public let lxcpath: String
    public let name: String
    private let makeRequest: () throws(LaunchError) -> LaunchRequest
    private let log = Logger("monitor")
    private var state = ContainerState.stopped
    private var stopping = false
    /// The write end of the current keeper's line: a byte stands it down.
    private var keeper: Int32 = -1
    /// The command socket's fd, which a keeper must not keep bound.
    private var listener: Int32 = -1
    /// The seccomp proxy of `lxc.seccomp.notify.proxy`, connected at start.
    private var proxy: SeccompProxyClient?
    /// The monitor's own cgroup (`lxc.cgroup.dir.monitor`), entered before the first start
    /// and left when the container has stopped or failed to start.
    private var monitorCgroup: MonitorCgroup?
    /// The container's console (`lxc.console.*`); it outlives reboots of the container.
    private var console: ContainerConsole?
    /// The container's `lxc.tty.max` ttys; they outlive reboots too.
    private var ttys: ContainerTTYs?
    /// An fd that also gets the console's output (a foreground start's stdout), or -1.
    public var consoleMirror: Int32 = -1
    /// Where the running launch's seccomp listener is shown to other threads.
    public let sharedListener: SeccompListenerSlot
    /// Connections of `stop` clients, closed when the monitor is done with the container.
    private var stopWaiters: [Int32] = []
    /// A client took the listener over the command socket (`seccompNotifyFDActive`).
    private var listenerHandedOut = false
    /// Listeners of attached commands' filters (LXC's add-listener command), served like the
    /// init's; each is closed when its filter has no process left, or at the end of a launch.
    private var attachedListeners = DescriptorList()
    /// The attach helper as a sealed memfd (CVE-2019-5736: what enters the container is
    /// never the host's file), copied at the first attach and kept; -1 before.
    private var attachBinary: Int32 = -1
    /// The container-side binary of the current launch, and what an attach applies.
    private var initPath: String?
    private var attachDefaults = AttachDefaults()

    /// `makeRequest` builds the launch; it runs again for every restart after a reboot, so a
    /// reboot picks up the config as it is then. `sharedListener` shows each launch's notify
    /// listener while it runs.
    public init(
        lxcpath: String, name: String, sharedListener: SeccompListenerSlot = SeccompListenerSlot(),
        makeRequest: @escaping () throws(LaunchError) -> LaunchRequest
    ) {
        self.lxcpath = lxcpath
        self.name = name
        self.sharedListener = sharedListener
        self.makeRequest = makeRequest
    }

    deinit {
        for fd in stopWaiters { _ = close(fd) }
    }

    /// Starts the container and serves it until it stops. `ready` is called once: with nil
    /// when the container is RUNNING, or with the error that kept it from starting.
    public func run(ready: (LaunchError?) -> Void) -> TerminationStatus {
        // A client or keeper that went away must not kill the monitor with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let server: CommandServer
        do {
            server = try CommandServer(lxcpath: lxcpath, name: name)
        } catch {
            let reason =
                error.errno == Errno(rawValue: EADDRINUSE)
                ? LaunchError.host(
                    step: "start",
                    SyscallError(
                        .EBUSY, call: "bind",
                        object: "container \(name) is already running"))
                : LaunchError.host(step: "create the command socket", error)
            ready(reason)
            return .exited(1)
        }

        state = .starting
        listener = server.fd.rawValue
        var container: LaunchedContainer
        do {
            container = try launch()
        } catch {
            state = .stopped
            // Before the report: a failed start has left nothing behind once it is known.
            leaveMonitorCgroup()
            ready(error)
            return .exited(1)
        }
        state = .running
        log.info("container \(name) is running, init pid \(container.process.pid)")
        ready(nil)

        while true {
            let event = waitForEvent(server: server, container: container)
            if event == .clientWaiting {
                serveClient(server: server, container: container)
                continue
            }
            if event == .seccompNotification {
                if servesSeccomp { answerSeccomp(container.seccompListener) }
                continue
            }
            if event == .consoleOutput {
                console?.drain()
                continue
            }
            if event == .consoleInput {
                console?.forwardClientInput()
                continue
            }
            if case .ttyClientGone(let index) = event {
                ttys?.release(index)
                continue
            }
            if case .attachedListener(let index, let readable) = event {
                serveAttachedListener(index, readable: readable)
                continue
            }
            // The init ended: a reboot restarts it, anything else ends the container.
            let status = (try? container.process.wait()) ?? .exited(-1)
            standDownKeeper()
            console?.drain()
            sharedListener.withdraw()
            attachedListeners = DescriptorList()
            container.releaseResources()
            if status == .signaled(SIGHUP) && !stopping {
                log.info("container \(name) rebooted; starting it again")
                state = .starting
                do {
                    container = try launch()
                    state = .running
                    continue
                } catch {
                    log.error("restart of \(name) failed: \(error)")
                }
            }
            leaveMonitorCgroup()
            state = .stopped
            log.info("container \(name) stopped: \(status)")
            return status
        }
    }

    private func launch() throws(LaunchError) -> LaunchedContainer {
        var request = try makeRequest()
        try enterMonitorCgroup(request.monitorCgroup)
        if let monitorCgroup {
            // The container's base is where the monitor came from, not the monitor cgroup.
            request.cgroup?.layout = monitorCgroup.layout
        }
        try attachConsole(&request)
        let container = try Launcher.start(request)
        initPath = request.initPath
        attachDefaults = AttachDefaults(
            plan: request.plan, cgroupDirectories: container.cgroup?.attachDirectories ?? [])
        proxy = nil
        listenerHandedOut = false
        if let address = request.seccompProxy, container.seccompListener >= 0 {
            // A proxy that goes away later is answered ENOSYS call by call; one that cannot be
            // reached now fails the start, as in LXC (its mainloop refuses to run).
            do {
                proxy = SeccompProxyClient(
                    socket: try SeccompProxyClient.connect(to: address),
                    cookie: request.seccompCookie, monitorPID: getpid(),
                    initPID: container.process.pid)
            } catch {
                try? container.process.signal(SIGKILL)
                _ = try? container.process.wait()
                container.releaseResources()
                throw .host(step: "connect to the seccomp proxy of lxc.seccomp.notify.proxy", error)
            }
        }
        var inherited = [listener]
        if let console { inherited += [console.controllerDescriptor, console.peerDescriptor] }
        inherited += ttys?.descriptors ?? []
        do {
            keeper = try container.startKeeper(closing: inherited, monitorCgroup: monitorCgroup)
                .release()
        } catch {
            log.warn("no keeper for \(name): \(error); it will outlive a killed monitor")
        }
        if container.seccompListener >= 0 { sharedListener.publish(container.seccompListener) }
        return container
    }

    /// Moves this process into `lxc.cgroup.dir.monitor` in every hierarchy, once: a restart
    /// after a reboot keeps the cgroup the first start entered.
    private func enterMonitorCgroup(_ plan: MonitorCgroupPlan?) throws(LaunchError) {
        guard let plan, monitorCgroup == nil else { return }
        monitorCgroup = try plan.enter()
    }

    /// Moves this process (and anything it started that is still there) out of the monitor
    /// cgroup and removes it.
    private func leaveMonitorCgroup() {
        monitorCgroup?.leaveLogging()
        monitorCgroup = nil
    }

    /// Gives the container the monitor's console as its stdio and `/dev/console`, making the
    /// console at the first launch (a reboot keeps it, and what its buffer holds).
    private func attachConsole(_ request: inout LaunchRequest) throws(LaunchError) {
        try attachTTYs(&request)
        guard let options = request.console else {
            console = nil
            return
        }
        if console?.options != options {
            do {
                console = try ContainerConsole(options)
                console?.mirror = consoleMirror
            } catch {
                throw .host(step: "allocate the console", error)
            }
        }
        guard let console else { return }
        let peer = console.peerDescriptor
        request.stdio = [peer, peer, peer]
        request.plan.rootfs.console = console.peerPath
    }

    /// Makes the `lxc.tty.max` ttys at the first launch (a reboot keeps them) and names their
    /// peers in the plan for the stage to bind.
    private func attachTTYs(_ request: inout LaunchRequest) throws(LaunchError) {
        guard let options = request.ttys else {
            ttys = nil
            return
        }
        if ttys?.options != options {
            do {
                ttys = try ContainerTTYs(options)
            } catch {
                throw .host(step: "allocate the ttys of lxc.tty.max", error)
            }
        }
        request.plan.rootfs.ttys = ttys?.peerPaths ?? []
    }

    private func standDownKeeper() {
        guard keeper >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(keeper, &byte, 1)
        _ = close(keeper)
        keeper = -1
    }

    private enum Event: Equatable {
        case clientWaiting, initExited, seccompNotification, consoleOutput, consoleInput
        /// An attached command's listener: a notification waits, or its filter has no
        /// process left (not readable: a hang-up).
        case attachedListener(Int, readable: Bool)
        /// The client holding a tty (index 0 for tty 1) closed its command connection.
        case ttyClientGone(Int)
    }

    private func waitForEvent(
        server: borrowing CommandServer, container: borrowing LaunchedContainer
    )
        -> Event
    {
        // A negative fd is skipped by poll: no listener, no console.
        var fds = [
            pollfd(fd: server.fd.rawValue, events: Int16(POLLIN), revents: 0),
            pollfd(fd: container.process.fd.rawValue, events: Int16(POLLIN), revents: 0),
            pollfd(
                fd: servesSeccomp ? container.seccompListener : -1, events: Int16(POLLIN),
                revents: 0),
            pollfd(fd: console?.controllerDescriptor ?? -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: console?.clientDescriptor ?? -1, events: Int16(POLLIN), revents: 0),
        ]
        let holders = ttys?.holderDescriptors ?? []
        for holder in holders {
            fds.append(pollfd(fd: holder, events: pollReadHangUp, revents: 0))
        }
        let listenersStart = 5 + holders.count
        for index in 0..<attachedListeners.count {
            fds.append(
                pollfd(
                    fd: attachedListeners.rawValue(at: index), events: Int16(POLLIN), revents: 0))
        }
        while true {
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 { continue }  // EINTR
            if fds[1].revents != 0 { return .initExited }
            if fds[2].revents & Int16(POLLIN) != 0 { return .seccompNotification }
            if fds[3].revents & Int16(POLLIN) != 0 { return .consoleOutput }
            if fds[4].revents != 0 { return .consoleInput }
            // Before new clients: a tty freed by a client that just left is free for the next.
            for index in 5..<listenersStart where fds[index].revents != 0 {
                return .ttyClientGone(index - 5)
            }
            for index in listenersStart..<fds.count where fds[index].revents != 0 {
                return .attachedListener(
                    index - listenersStart, readable: fds[index].revents & Int16(POLLIN) != 0)
            }
            if fds[0].revents != 0 { return .clientWaiting }
        }
    }

    private func serveClient(
        server: borrowing CommandServer, container: borrowing LaunchedContainer
    ) {
        guard let peer = try? server.accept() else { return }
        // Only root and the monitor's own user may control the container.
        guard peer.credentials.uid == 0 || peer.credentials.uid == geteuid() else {
            _ = try? peer.socket.send(CommandMessage(code: -EACCES).encoded())
            return
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(
            peer.socket.rawValue, SOL_SOCKET, SO_RCVTIMEO, &timeout,
            socklen_t(MemoryLayout<timeval>.size))
        guard let message = try? peer.socket.receive(capacity: 4096, maxDescriptors: 1),
            let request = try? CommandMessage(decoding: message.bytes),
            let command = MonitorCommand(rawValue: UInt32(bitPattern: request.code))
        else {
            _ = try? peer.socket.send(CommandMessage(code: -EINVAL).encoded())
            return
        }
        var reply = CommandMessage(code: 0)
        var descriptors: [Int32] = []
        switch command {
        case .state:
            reply.payload = [state.rawValue]
        case .initPID:
            reply.payload = [String(container.process.pid)]
        case .getInitPIDFD:
            descriptors = [container.process.fd.rawValue]
        case .getSeccompNotifyFD:
            guard container.seccompListener >= 0 else {
                reply.code = -ENOENT
                break
            }
            descriptors = [container.seccompListener]
            listenerHandedOut = true
        case .getDevptsFD:
            guard container.devptsMount >= 0 else {
                reply.code = -ENOENT
                break
            }
            descriptors = [container.devptsMount]
        case .stop:
            stopping = true
            state = .stopping
            reply.code = signalInit(container, SIGKILL)
            // A frozen container takes the kill only when thawed, as LXC's stop does.
            if let cgroup = container.cgroup, (try? cgroup.isFrozen()) == true {
                try? cgroup.thaw()
            }
            // The client learns of the end when this connection closes: kept until the
            // monitor is done (its command socket is closed by then).
            if reply.code == 0 {
                let held = fcntl(peer.socket.rawValue, F_DUPFD_CLOEXEC, 0)
                if held >= 0 { stopWaiters.append(held) }
            }
        case .freeze, .unfreeze:
            reply.code = changeFreezer(container, freeze: command == .freeze)
        case .getCgroupItem, .setCgroupItem, .cgroupStats:
            reply = cgroupRequest(command, request.payload, container)
        case .consoleLog:
            var data: FileDescriptor?
            reply = consoleLog(request.payload, data: &data)
            if let data {
                _ = try? peer.socket.send(reply.encoded(), descriptors: [data.rawValue])
                return
            }
        case .consoleAttach:
            // The tty asked for: 0 (or nothing) the console, N tty N, -1 the first free tty
            // (the console when the container has no ttys).
            let tty = request.payload.first.flatMap { Int($0) } ?? 0
            if tty != 0, let ttys {
                var number = tty
                do {
                    let client = try ttys.attachClient(&number, connection: peer.socket.rawValue)
                    reply.payload = [String(number)]
                    _ = try? peer.socket.send(reply.encoded(), descriptors: [client.rawValue])
                    return
                } catch {
                    reply.code = -error.errno.rawValue
                    reply.payload = [error.description]
                    break
                }
            }
            if tty > 0 {
                reply.code = -EINVAL
                reply.payload = ["tty \(tty): the container has no ttys (lxc.tty.max)"]
                break
            }
            guard let console else {
                reply.code = -ENOTTY
                reply.payload = ["the container has no console (lxc.console.path = none)"]
                break
            }
            do {
                let client = try console.attachClient()
                reply.payload = ["0"]
                _ = try? peer.socket.send(reply.encoded(), descriptors: [client.rawValue])
                return
            } catch {
                reply.code = -error.errno.rawValue
                reply.payload = [error.description]
            }
        case .addSeccompListener:
            guard let listener = message.descriptors.take(0) else {
                reply.code = -EBADF
                break
            }
            _ = attachedListeners.append(listener)
        case .attachContext:
            do {
                // The defaults hold the seccomp program and the environment: a memfd takes
                // any size, where the datagram would not.
                let defaults = try ProcessControl.sealedMemfd(
                    "swiftlxc-attach-defaults", contents: attachDefaults.encoded)
                let sent = [try attachHelper(), container.process.fd.rawValue, defaults.rawValue]
                _ = try? peer.socket.send(reply.encoded(), descriptors: sent)
                return
            } catch {
                reply.code = -error.errno.rawValue
                reply.payload = [error.description]
            }
        case .signal:
            guard let number = request.payload.first.flatMap({ Int32($0) }) else {
                reply.code = -EINVAL
                break
            }
            reply.code = signalInit(container, number)
        }
        _ = try? peer.socket.send(reply.encoded(), descriptors: descriptors)
    }

    /// The sealed memfd copy of the container-side binary, made once.
    private func attachHelper() throws(SyscallError) -> Int32 {
        if attachBinary >= 0 { return attachBinary }
        let path: String
        if let initPath {
            path = initPath
        } else {
            do {
                path = try Launcher.locateInit()
            } catch {
                throw SyscallError(.ENOENT, call: "open", object: error.description)
            }
        }
        attachBinary = try ProcessControl.sealedMemfd("swiftlxc-attach", copying: path).release()
        log.debug("attach helper \(path) copied into a sealed memfd")
        return attachBinary
    }

    /// LXC's console_log: payload `read`, `clear` ("1" or "0") and the byte limit; the bytes
    /// come back in a sealed memfd (a buffer may be larger than one datagram).
    private func consoleLog(_ payload: [String], data: inout FileDescriptor?) -> CommandMessage {
        guard payload.count == 3, let limit = UInt64(payload[2]) else {
            return CommandMessage(code: -EINVAL)
        }
        guard let console else { return CommandMessage(code: -EFAULT) }
        switch console.consoleLog(read: payload[0] == "1", clear: payload[1] == "1", limit: limit) {
        case .failure(.noBuffer):
            return CommandMessage(code: -EFAULT)
        case .failure(.empty):
            return CommandMessage(code: -ENODATA)
        case .success(let bytes):
            do {
                data = try ProcessControl.sealedMemfd("swiftlxc-console-log", contents: bytes)
                return CommandMessage(code: 0, payload: [String(bytes.count)])
            } catch {
                return CommandMessage(code: -error.errno.rawValue)
            }
        }
    }

    /// Whether this loop answers the listener: always with a proxy; without one, only until a
    /// caller has taken the listener (`seccompNotifyFD`, `seccompNotifyFDActive`), which then
    /// serves the notifications itself, as with LXC, instead of racing the monitor's ENOSYS.
    private var servesSeccomp: Bool {
        proxy != nil || !(listenerHandedOut || sharedListener.wasHandedOut)
    }

    /// A notification on an attached command's listener is answered as the init's are (the
    /// proxy, or ENOSYS); a listener whose filter has no process left is closed.
    private func serveAttachedListener(_ index: Int, readable: Bool) {
        if readable {
            answerSeccomp(attachedListeners.rawValue(at: index))
            return
        }
        var kept = DescriptorList()
        for position in 0..<attachedListeners.count where position != index {
            if let fd = attachedListeners.take(position) { _ = kept.append(fd) }
        }
        attachedListeners = kept
    }

    /// One notification of the container's filter: the proxy answers, or ENOSYS.
    private func answerSeccomp(_ listener: Int32) {
        guard let notification = try? SeccompNotify.receive(listener) else { return }
        let response = proxy?.forward(notification) ?? .fail(.ENOSYS)
        try? SeccompNotify.respond(response, to: notification.id, listener: listener)
    }

    private func changeFreezer(_ container: borrowing LaunchedContainer, freeze: Bool) -> Int32 {
        guard let cgroup = container.cgroup else { return -ENOENT }
        state = freeze ? .freezing : .running
        do {
            if freeze {
                try cgroup.freeze()
                state = .frozen
            } else {
                try cgroup.thaw()
                state = .running
            }
            return 0
        } catch {
            log.error("\(freeze ? "freeze" : "unfreeze") \(name): \(error)")
            state = (try? cgroup.isFrozen()) == true ? .frozen : .running
            return -EIO
        }
    }

    private func cgroupRequest(
        _ command: MonitorCommand, _ payload: [String], _ container: borrowing LaunchedContainer
    ) -> CommandMessage {
        guard let cgroup = container.cgroup else { return CommandMessage(code: -ENOENT) }
        do {
            switch command {
            case .getCgroupItem:
                guard let file = payload.first else { return CommandMessage(code: -EINVAL) }
                return CommandMessage(code: 0, payload: [try cgroup.get(file)])
            case .setCgroupItem:
                guard payload.count == 2 else { return CommandMessage(code: -EINVAL) }
                try cgroup.set(payload[0], to: payload[1])
                return CommandMessage(code: 0)
            default:
                return CommandMessage(code: 0, payload: [try cgroup.stats().json])
            }
        } catch {
            // The reason travels as text: the file and the value the kernel refused.
            return CommandMessage(code: -EINVAL, payload: [error.description])
        }
    }

    private func signalInit(_ container: borrowing LaunchedContainer, _ signal: Int32) -> Int32 {
        do {
            try container.process.signal(signal)
            return 0
        } catch {
            return -error.errno.rawValue
        }
    }
}
