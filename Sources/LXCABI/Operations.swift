import CLXCABI
import Glibc
import LXC
import LXCConfig
import LXCRuntime
import LXCSystem

// Every function pointer of `struct lxc_container`. Each one checks its container, calls the
// Swift API, and turns errors into liblxc's return convention with `error_num` set. What
// SwiftLXC lacks answers ENOSYS; no pointer is ever NULL.

/// Runs `body` with the container's handle; a NULL or foreign container gets `fallback`.
private func with<T>(_ c: ContainerPointer?, _ fallback: T, _ body: (ContainerPointer, Handle) -> T)
    -> T
{
    guard let c, let box = handle(c) else {
        errno = EINVAL
        return fallback
    }
    return body(c, box)
}

/// A call that throws: true, or false with the error recorded.
private func attempt(_ c: ContainerPointer, _ what: String, _ body: () throws -> Void) -> Bool {
    do {
        try body()
        return true
    } catch {
        fail(c, what, error)
        return false
    }
}

func installOperations(_ c: ContainerPointer) {
    installQueries(c)
    installConfig(c)
    installLifecycle(c)
    installStore(c)
    installRunning(c)
    installAttach(c)
    installUnimplemented(c)
    cabi_install_variadic(c)
}

// MARK: - State

private func installQueries(_ c: ContainerPointer) {
    c.pointee.is_defined = { c in with(c, false) { _, box in box.container.isDefined } }
    c.pointee.state = { c in
        with(c, nil) { _, box in stateName(box.container.state) }
    }
    c.pointee.is_running = { c in with(c, false) { _, box in box.container.isRunning } }
    c.pointee.init_pid = { c in with(c, -1) { _, box in box.container.initPID } }
    c.pointee.init_pidfd = { c in
        with(c, -EINVAL) { c, box in
            do {
                return try box.container.initPIDFD().release()
            } catch {
                return -fail(c, "init_pidfd", error)
            }
        }
    }
    c.pointee.may_control = { c in
        with(c, false) { c, _ in
            geteuid() == 0 || access(c.pointee.config_path, W_OK) == 0
        }
    }
    c.pointee.get_config_path = { c in
        with(c, nil) { c, _ in UnsafePointer(c.pointee.config_path) }
    }
    c.pointee.set_config_path = { c, path in
        with(c, false) { c, box in
            guard let path = string(path) else { return false }
            let name = box.container.name
            free(c.pointee.config_path)
            free(c.pointee.configfile)
            c.pointee.config_path = strdup(path)
            c.pointee.configfile = strdup("\(path)/\(name)/config")
            box.container = Container(name: name, lxcpath: path)
            return true
        }
    }
    c.pointee.config_file_name = { c in
        with(c, nil) { c, _ in c.pointee.configfile.flatMap { strdup($0) } }
    }
    c.pointee.want_daemonize = { c, state in
        with(c, false) { c, _ in
            c.pointee.daemonize = state
            return true
        }
    }
    c.pointee.want_close_all_fds = { c, state in
        with(c, false) { _, box in
            // The monitor is a new program with only /dev/null and its pipe: nothing of the
            // caller's leaks into it either way.
            box.closeAllFDs = state
            return true
        }
    }
}

// MARK: - Config

private func configFile(_ c: ContainerPointer) -> String {
    c.pointee.configfile.map { String(cString: $0) } ?? ""
}

/// Loads `path` into the handle; errors name the file and line.
private func load(_ c: ContainerPointer, _ box: Handle, from path: String) -> Bool {
    let (configuration, errors) = LXCConfiguration.check(contentsOf: path)
    guard errors.isEmpty else {
        report(
            c, "load config \(path): " + errors.map(\.description).joined(separator: "; "),
            errno: EINVAL)
        return false
    }
    box.configuration = configuration
    box.unsaved = path != configFile(c)
    return true
}

/// Writes the in-memory config to `path` (the container's config file by default).
private func save(_ c: ContainerPointer, _ box: Handle, to alternative: String?) -> Bool {
    let path = alternative ?? configFile(c)
    let configuration = box.configuration ?? LXCConfiguration()
    if alternative == nil {
        let directory = String(path.prefix(upTo: path.lastIndex(of: "/") ?? path.endIndex))
        if mkdir(directory, 0o750) < 0 && errno != EEXIST {
            fail(c, "save_config", SyscallError(.current, call: "mkdir", object: directory))
            return false
        }
    }
    guard attempt(c, "save_config", { try configuration.save(to: path) }) else { return false }
    box.configuration = configuration
    if alternative == nil { box.unsaved = false }
    return true
}

private func installConfig(_ c: ContainerPointer) {
    c.pointee.load_config = { c, alternative in
        with(c, false) { c, box in load(c, box, from: string(alternative) ?? configFile(c)) }
    }
    c.pointee.save_config = { c, alternative in
        with(c, false) { c, box in save(c, box, to: string(alternative)) }
    }
    c.pointee.set_config_item = { c, key, value in
        with(c, false) { c, box in
            guard let key = string(key), let value = string(value) else { return false }
            var configuration = box.configuration ?? LXCConfiguration()
            guard attempt(c, "set_config_item", { try configuration.set(key, value) }) else {
                return false
            }
            box.configuration = configuration
            box.unsaved = true
            return true
        }
    }
    c.pointee.get_config_item = { c, key, retv, inlen in
        with(c, -1) { c, box in
            guard let key = string(key), let configuration = box.configuration else { return -1 }
            do {
                return copyOut(try configuration.get(key), retv, inlen)
            } catch {
                fail(c, "get_config_item", error)
                return -1
            }
        }
    }
    c.pointee.clear_config_item = { c, key in
        with(c, false) { c, box in
            guard let key = string(key), var configuration = box.configuration else { return false }
            guard attempt(c, "clear_config_item", { try configuration.clear(key) }) else {
                return false
            }
            box.configuration = configuration
            box.unsaved = true
            return true
        }
    }
    c.pointee.clear_config = { c in
        with(c, ()) { _, box in
            box.configuration = nil
            box.unsaved = false
        }
    }
    c.pointee.get_keys = { c, key, retv, inlen in
        with(c, -1) { c, box in
            guard let configuration = box.configuration else { return -1 }
            do {
                let names = try configuration.keys(string(key))
                return copyOut(names.map { $0 + "\n" }.joined(), retv, inlen)
            } catch {
                fail(c, "get_keys", error)
                return -1
            }
        }
    }
    c.pointee.get_running_config_item = { c, key in
        with(c, nil) { c, box in
            guard let key = string(key), box.container.isRunning else { return nil }
            // The monitor started from the saved config: read it from there.
            do {
                return duplicate(try box.container.configItem(key))
            } catch {
                fail(c, "get_running_config_item", error)
                return nil
            }
        }
    }
}

// MARK: - Start, stop, wait

/// A raw `waitpid` status word.
private func rawStatus(_ status: TerminationStatus) -> Int32 {
    switch status {
    case .exited(let code): return (code & 0xff) << 8
    case .signaled(let signal): return signal & 0x7f
    }
}

private func installLifecycle(_ c: ContainerPointer) {
    c.pointee.start = { c, useinit, argv in
        with(c, false) { c, box in
            start(c, box, useInit: useinit != 0, command: argv.map { strings($0) })
        }
    }
    c.pointee.stop = { c in
        with(c, false) { c, box in
            do {
                try box.container.stop()
                return true
            } catch ContainerError.store(.notRunning) {
                return true  // liblxc: stopping a stopped container succeeds
            } catch {
                // A monitor that exits while answering (the container just stopped by
                // itself) resets the connection: liblxc reports it as already stopped.
                if !box.container.isRunning { return true }
                fail(c, "stop", error)
                return false
            }
        }
    }
    c.pointee.shutdown = { c, timeout in
        with(c, false) { c, box in
            guard box.container.isRunning else { return true }
            do {
                return try box.container.shutdown(timeout: Int(timeout), killOnTimeout: false)
            } catch {
                fail(c, "shutdown", error)
                return false
            }
        }
    }
    c.pointee.reboot = { c in
        with(c, false) { c, box in
            guard box.container.initPID > 0 else {
                report(c, "reboot: \(box.container.name) is not running", errno: ESRCH)
                return false
            }
            return attempt(c, "reboot") { try box.container.reboot(timeout: 0) }
        }
    }
    c.pointee.reboot2 = { c, timeout in
        with(c, false) { c, box in
            do {
                return try box.container.reboot(timeout: Int(timeout))
            } catch {
                fail(c, "reboot2", error)
                return false
            }
        }
    }
    c.pointee.wait = { c, state, timeout in
        with(c, false) { c, box in
            guard let name = string(state), let wanted = ContainerState(rawValue: name) else {
                report(c, "wait: unknown state \(string(state) ?? "(null)")", errno: EINVAL)
                return false
            }
            return box.container.wait(for: wanted, timeout: Int(timeout))
        }
    }
    c.pointee.freeze = { c in
        with(c, false) { c, box in attempt(c, "freeze") { try box.container.freeze() } }
    }
    c.pointee.unfreeze = { c in
        with(c, false) { c, box in attempt(c, "unfreeze") { try box.container.unfreeze() } }
    }
}

/// `start`: the monitor plans from the config file, so an in-memory config that was changed
/// and not saved is saved first (liblxc starts from its in-memory config without saving).
private func start(_ c: ContainerPointer, _ box: Handle, useInit: Bool, command: [String]?) -> Bool
{
    if box.unsaved && box.container.isDefined {
        guard save(c, box, to: nil) else { return false }
    }
    let command = command.flatMap { $0.isEmpty ? nil : $0 }
    if c.pointee.daemonize {
        return attempt(c, "start") { try box.container.start(command: command, useInit: useInit) }
    }
    guard box.container.isDefined else {
        fail(c, "start", ContainerError.store(.notDefined(box.container.name)))
        return false
    }
    var failure: LaunchError?
    let status = box.container.runMonitor(command: command, useInit: useInit, consoleMirror: 1) {
        failure = $0
    }
    if let failure {
        fail(c, "start", ContainerError.launch(failure))
        return false
    }
    c.pointee.error_num = rawStatus(status)
    return true
}

// MARK: - Create, destroy, rename, clone

private func installStore(_ c: ContainerPointer) {
    c.pointee.create = { c, template, bdevtype, _, _, argv in
        with(c, false) { c, box in
            create(
                c, box, template: string(template), storage: string(bdevtype),
                arguments: strings(argv))
        }
    }
    c.pointee.destroy = { c in
        with(c, false) { c, box in attempt(c, "destroy") { try box.container.destroy() } }
    }
    c.pointee.destroy_with_snapshots = { c in
        // SwiftLXC makes no snapshots: destroying the container destroys everything.
        with(c, false) { c, box in
            attempt(c, "destroy_with_snapshots") { try box.container.destroy() }
        }
    }
    c.pointee.rename = { c, newName in
        with(c, false) { c, box in
            guard let newName = string(newName) else { return false }
            var renamed: Container?
            guard attempt(c, "rename", { renamed = try box.container.rename(to: newName) }),
                let renamed
            else { return false }
            free(c.pointee.name)
            free(c.pointee.configfile)
            c.pointee.name = strdup(newName)
            c.pointee.configfile = strdup(renamed.configPath)
            box.container = renamed
            return load(c, box, from: renamed.configPath)
        }
    }
    c.pointee.clone = { c, newName, lxcpath, flags, bdevtype, _, _, _ in
        with(c, nil) { c, box in
            guard let newName = string(newName) else { return nil }
            if let path = string(lxcpath), path != box.container.lxcpath {
                report(c, "clone: SwiftLXC clones only within the lxcpath", errno: ENOSYS)
                return nil
            }
            if flags != 0 {
                report(
                    c, "clone: flags \(flags) (snapshots, keep-name…) are not implemented",
                    errno: ENOSYS)
                return nil
            }
            if let storage = string(bdevtype), storage != "dir" {
                report(c, "clone: backing store \(storage) is not implemented", errno: ENOSYS)
                return nil
            }
            guard attempt(c, "clone", { try box.container.copy(to: newName) }) else { return nil }
            return makeSibling(name: newName, lxcpath: box.container.lxcpath)
        }
    }
}

/// `create`, as liblxc's: the in-memory config (LXC's default config when there is none)
/// becomes the container's. Without a template the config is saved, with
/// `lxc.rootfs.path` made `<lxcpath>/<name>/rootfs` when unset; a template makes the rootfs
/// and appends its items. A defined container whose rootfs exists is not created again
/// from a template (EEXIST).
private func create(
    _ c: ContainerPointer, _ box: Handle, template: String?, storage: String?, arguments: [String]
) -> Bool {
    let container = box.container
    if let storage, !["dir", "best"].contains(storage) {
        report(c, "create: backing store \(storage) is not implemented", errno: ENOSYS)
        return false
    }
    if box.configuration == nil, let file = GlobalConfig.value("lxc.default_config"),
        access(file, R_OK) == 0
    {
        guard load(c, box, from: file) else { return false }
    }
    var configuration = box.configuration ?? LXCConfiguration()
    let directory = "\(container.lxcpath)/\(container.name)"
    let rootfs = ((try? configuration.get("lxc.rootfs.path")) ?? "")
    let template = template == "none" ? nil : template
    guard let template else {
        if rootfs.isEmpty {
            guard
                attempt(
                    c, "create", { try configuration.set("lxc.rootfs.path", "\(directory)/rootfs") }
                )
            else { return false }
        }
        box.configuration = configuration
        guard save(c, box, to: nil) else { return false }
        if rootfs.isEmpty { mkdir("\(directory)/rootfs", 0o755) }
        return true
    }
    if container.isDefined && !rootfs.isEmpty && access(rootfs, F_OK) == 0 {
        report(
            c, "create: container \(container.name) already exists in \(container.lxcpath)",
            errno: EEXIST)
        return false
    }
    // The store writes the config itself and refuses a defined container: a config saved
    // before (python3-lxc saves one) is replaced.
    unlink(configFile(c))
    let store = ContainerStore(lxcpath: container.lxcpath)
    do {
        let lock = try store.lock(container.name)
        defer { withExtendedLifetime(lock) {} }
        try store.create(
            container.name, configText: configuration.text, rootfs: .template(template, arguments))
    } catch {
        fail(c, "create", error)
        return false
    }
    return load(c, box, from: configFile(c))
}

// MARK: - A running container

private func installRunning(_ c: ContainerPointer) {
    c.pointee.get_cgroup_item = { c, key, retv, inlen in
        with(c, -1) { c, box in
            guard let key = string(key) else { return -1 }
            do {
                // liblxc returns the file as read, with its final newline.
                var value = try box.container.cgroupItem(key)
                if !value.isEmpty && !value.hasSuffix("\n") { value += "\n" }
                return copyOut(value, retv, inlen)
            } catch {
                fail(c, "get_cgroup_item", error)
                return -1
            }
        }
    }
    c.pointee.set_cgroup_item = { c, key, value in
        with(c, false) { c, box in
            guard let key = string(key), let value = string(value) else { return false }
            return attempt(c, "set_cgroup_item") { try box.container.setCgroupItem(key, value) }
        }
    }
    c.pointee.get_interfaces = { c in
        with(c, nil) { c, box in
            do {
                return stringArray(try box.container.interfaces())
            } catch {
                fail(c, "get_interfaces", error)
                return nil
            }
        }
    }
    c.pointee.get_ips = { c, interface, family, scope in
        with(c, nil) { c, box in
            do {
                return stringArray(
                    try box.container.ips(
                        interface: string(interface), family: string(family), scope: scope))
            } catch {
                fail(c, "get_ips", error)
                return nil
            }
        }
    }
    c.pointee.attach_interface = { c, device, name in
        with(c, false) { c, box in
            guard let device = string(device) else { return false }
            return attempt(c, "attach_interface") {
                try box.container.attachInterface(device, as: string(name))
            }
        }
    }
    c.pointee.detach_interface = { c, device, name in
        with(c, false) { c, box in
            guard let device = string(device) else { return false }
            return attempt(c, "detach_interface") {
                try box.container.detachInterface(device, as: string(name))
            }
        }
    }
    c.pointee.console_log = { c, log in
        with(c, -EINVAL) { c, box in
            guard let log else { return -EINVAL }
            let limit = log.pointee.read_max?.pointee ?? 0
            do {
                let bytes = try box.container.consoleLog(
                    read: log.pointee.read, clear: log.pointee.clear, limit: limit)
                if log.pointee.read {
                    let data = malloc(bytes.count + 1)!.assumingMemoryBound(to: CChar.self)
                    bytes.withUnsafeBufferPointer {
                        if !$0.isEmpty { memcpy(data, $0.baseAddress!, $0.count) }
                    }
                    data[bytes.count] = 0
                    log.pointee.data = data
                    log.pointee.read_max?.pointee = UInt64(bytes.count)
                }
                return 0
            } catch {
                return -fail(c, "console_log", error)
            }
        }
    }
    c.pointee.mount = { c, source, target, type, flags, data, _ in
        with(c, -EINVAL) { c, box in
            guard let target = string(target) else { return -EINVAL }
            let options = data.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? ""
            do {
                try box.container.mount(
                    source: string(source) ?? "", target: target, type: string(type) ?? "",
                    flags: flags,
                    data: options)
                return 0
            } catch {
                return -fail(c, "mount", error)
            }
        }
    }
    c.pointee.umount = { c, target, flags, _ in
        with(c, -EINVAL) { c, box in
            guard let target = string(target) else { return -EINVAL }
            do {
                try box.container.unmount(target, flags: Int32(truncatingIfNeeded: flags))
                return 0
            } catch {
                return -fail(c, "umount", error)
            }
        }
    }
    // tty 0 is the console; N > 0 tty N; -1 the first free tty (the console without ttys).
    // For a tty the answer is LXC's: the command connection, which holds the tty until it is
    // closed, with the controller in `ptxfd`; for the console the controller in both.
    c.pointee.console_getfd = { c, ttynum, ptxfd in
        with(c, -1) { c, box in
            do {
                let client = try box.container.consoleFD(tty: Int(ttynum?.pointee ?? -1))
                let tty = client.tty
                let (controller, connection) = client.release()
                ttynum?.pointee = Int32(tty)
                ptxfd?.pointee = controller
                guard tty != 0 else {
                    // The monitor does not tie the console to the connection.
                    _ = Glibc.close(connection)
                    return controller
                }
                return connection
            } catch {
                _ = fail(c, "console_getfd", error)
                return -1
            }
        }
    }
    c.pointee.console = { c, ttynum, stdinfd, stdoutfd, _, escape in
        with(c, -1) { c, box in
            // LXC's escape is the control code: 1 for Ctrl+a.
            let letter = Character(
                Unicode.Scalar(UInt8(truncatingIfNeeded: max(1, min(escape, 26)) + 96)))
            do {
                try box.container.runConsole(
                    tty: Int(ttynum), input: stdinfd, output: stdoutfd, escape: letter)
                return 0
            } catch {
                _ = fail(c, "console", error)
                return -1
            }
        }
    }
    c.pointee.seccomp_notify_fd = { c in
        with(c, -EINVAL) { c, box in
            do {
                return try box.container.seccompNotifyFD().release()
            } catch {
                return -fail(c, "seccomp_notify_fd", error)
            }
        }
    }
    c.pointee.devpts_fd = { c in
        with(c, -EINVAL) { c, box in
            do {
                return try box.container.devptsFD().release()
            } catch {
                return -fail(c, "devpts_fd", error)
            }
        }
    }
    c.pointee.seccomp_notify_fd_active = { c in
        with(c, -EINVAL) { c, box in
            do {
                return try box.container.seccompNotifyFDActive().release()
            } catch {
                return -fail(c, "seccomp_notify_fd_active", error)
            }
        }
    }
}

// MARK: - Unimplemented

private func installUnimplemented(_ c: ContainerPointer) {
    c.pointee.snapshot = { c, _ in
        notImplemented(c, "snapshot")
        return -1
    }
    c.pointee.snapshot_list = { c, _ in
        notImplemented(c, "snapshot_list")
        return -1
    }
    c.pointee.snapshot_restore = { c, _, _ in
        notImplemented(c, "snapshot_restore")
        return false
    }
    c.pointee.snapshot_destroy = { c, _ in
        notImplemented(c, "snapshot_destroy")
        return false
    }
    c.pointee.snapshot_destroy_all = { c in
        notImplemented(c, "snapshot_destroy_all")
        return false
    }
    c.pointee.add_device_node = { c, _, _ in
        notImplemented(c, "add_device_node")
        return false
    }
    c.pointee.remove_device_node = { c, _, _ in
        notImplemented(c, "remove_device_node")
        return false
    }
    c.pointee.checkpoint = { c, _, _, _ in
        notImplemented(c, "checkpoint")
        return false
    }
    c.pointee.restore = { c, _, _ in
        notImplemented(c, "restore")
        return false
    }
    c.pointee.migrate = { c, _, _, _ in
        notImplemented(c, "migrate")
        return -1
    }
}
