import CLXCABI
import Glibc
import LXC
import LXCCapabilities
import LXCRuntime
import LXCSystem

// `attach` and `attach_run_wait`. With `lxc_attach_run_command` as its function, `attach`
// is SwiftLXC's own attach (a helper from the monitor's sealed memfd joins the container;
// the caller never forks). Any other function must run in a copy of the caller inside the
// container, as liblxc does: `cabi_attach_fork` forks it there.

/// `LXC_ATTACH_*` flags SwiftLXC honours: cgroups, capabilities, personality, no_new_privs.
private let honouredFlags: UInt32 = 0x1 | 0x2 | 0x4 | 0x40000

/// `lxc_attach_options_t` as `AttachOptions`; NULL is `LXC_ATTACH_OPTIONS_DEFAULT`.
func attachOptions(_ pointer: UnsafeMutablePointer<lxc_attach_options_t>?) -> AttachOptions {
    var options = AttachOptions()
    guard let pointer else { return options }
    let raw = pointer.pointee
    options.flags = AttachOptions.Flags(
        rawValue: UInt32(bitPattern: raw.attach_flags) & honouredFlags)
    options.namespaces = raw.namespaces == -1 ? nil : NamespaceSet(rawValue: raw.namespaces)
    options.personality = raw.personality == -1 ? nil : UInt(bitPattern: raw.personality)
    options.uid = raw.uid == uid_t.max ? nil : raw.uid
    options.gid = raw.gid == gid_t.max ? nil : raw.gid
    if raw.groups.size > 0, let list = raw.groups.list {
        options.groups = Array(UnsafeBufferPointer(start: list, count: raw.groups.size))
    }
    options.cwd = string(raw.initial_cwd)
    options.environmentPolicy = raw.env_policy == 1 ? .clear : .keep
    options.extraEnvironment = strings(UnsafePointer(raw.extra_env_vars))
    options.keptVariables = strings(UnsafePointer(raw.extra_keep_env))
    options.stdin = raw.stdin_fd
    options.stdout = raw.stdout_fd
    options.stderr = raw.stderr_fd
    return options
}

func installAttach(_ c: ContainerPointer) {
    c.pointee.attach = { c, function, payload, options, attached in
        guard let c, let box = handle(c), let function else {
            errno = EINVAL
            return -1
        }
        let result: Int32
        if isRunCommand(function), let payload {
            let command = payload.assumingMemoryBound(to: lxc_attach_command_t.self).pointee
            var arguments = strings(UnsafePointer(command.argv))
            if let program = string(command.program) {
                if arguments.isEmpty { arguments = [program] } else { arguments[0] = program }
            }
            result = runCommand(c, box, arguments, options: attachOptions(options))
        } else {
            result = forkAttach(c, box, function, payload, options: attachOptions(options))
        }
        guard result > 0 else { return -1 }
        attached?.pointee = result
        return 0
    }
    c.pointee.attach_run_wait = { c, options, program, argv in
        guard let c, let box = handle(c), let program = string(program) else {
            errno = EINVAL
            return -1
        }
        var arguments = strings(argv)
        if arguments.isEmpty { arguments = [program] } else { arguments[0] = program }
        do {
            let status = try box.container.runAttached(arguments, options: attachOptions(options))
            switch status {
            case .exited(let code): return (code & 0xff) << 8
            case .signaled(let signal): return signal & 0x7f
            }
        } catch {
            fail(c, "attach_run_wait", error)
            // A command that could not be executed: the status its child would have had.
            let status = (error as? ContainerError)?.exitStatus ?? 1
            return status == 126 || status == 127 ? status << 8 : -1
        }
    }
}

private func isRunCommand(_ function: lxc_attach_exec_t) -> Bool {
    guard let ours = cabi_run_command_function() else { return false }
    return unsafeBitCast(function, to: UnsafeRawPointer.self)
        == unsafeBitCast(ours, to: UnsafeRawPointer.self)
}

/// SwiftLXC's attach; the command's pid, or 0 with the error recorded.
private func runCommand(
    _ c: ContainerPointer, _ box: Handle, _ arguments: [String], options: AttachOptions
)
    -> pid_t
{
    do {
        let process = try box.container.attach(arguments, options: options)
        return process.pid
    } catch {
        fail(c, "attach", error)
        return 0
    }
}

/// liblxc's attach with any function; the attached pid, or 0 with the error recorded.
private func forkAttach(
    _ c: ContainerPointer, _ box: Handle, _ function: lxc_attach_exec_t,
    _ payload: UnsafeMutableRawPointer?,
    options: AttachOptions
) -> pid_t {
    let container = box.container
    let what = "attach to \(container.name)"
    let answer: (reply: CommandMessage, descriptors: DescriptorList)
    do {
        answer = try CommandClient.send(
            .attachContext, lxcpath: container.lxcpath, name: container.name)
    } catch {
        if error.errno == .ECONNREFUSED || error.errno == .ENOENT {
            fail(c, what, ContainerError.store(.notRunning(container.name)))
        } else {
            fail(c, what, error)
        }
        return 0
    }
    guard answer.reply.code >= 0, let initPIDFD = answer.descriptors.take(1),
        let memory = answer.descriptors.take(2),
        let defaults = try? AttachDefaults(decoding: ProcessControl.contents(of: memory))
    else {
        report(c, "\(what): no attach context from the monitor", errno: EIO)
        return 0
    }
    let initPID = container.initPID
    // Only the namespaces that differ: joining one's own user namespace is EINVAL.
    var namespaces: Int32 = 0
    for namespace in (options.namespaces ?? NamespaceSet(Namespace.allCases)).members {
        guard let theirs = try? namespace.identity(of: initPID) else { continue }
        if (try? namespace.identity()) != theirs { namespaces |= namespace.cloneFlag }
    }
    let cgroupFiles =
        options.flags.contains(.moveToCgroup)
        ? defaults.cgroupDirectories.map { $0 + "/cgroup.procs" } : []
    var drop: UInt64 = 0
    if options.flags.contains(.dropCapabilities), let keep = defaults.bounding {
        drop = CapabilitySet.all().mask & ~keep.mask
    }
    var personality = -1
    if options.flags.contains(.setPersonality),
        let value = options.personality ?? defaults.personality
    {
        personality = Int(bitPattern: value)
    }
    let environment = Container.attachEnvironment(options, container: defaults.environment)
    var cwd = options.cwd
    if cwd == nil {
        var buffer = [CChar](repeating: 0, count: 4096)
        if getcwd(&buffer, buffer.count) != nil {
            cwd = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
    }
    let groups = options.groups ?? []

    let cgroupPointers = cgroupFiles.map { UnsafePointer(strdup($0)) }
    let environmentPointers = environment.map { strdup($0) } + [nil]
    let cwdPointer = cwd.map { strdup($0) } ?? nil
    defer {
        for pointer in cgroupPointers { free(UnsafeMutablePointer(mutating: pointer)) }
        for pointer in environmentPointers { free(pointer) }
        free(cwdPointer)
    }
    var attached: pid_t = 0
    let result = cgroupPointers.withUnsafeBufferPointer { cgroups in
        environmentPointers.withUnsafeBufferPointer { environment in
            groups.withUnsafeBufferPointer { groupList in
                defaults.seccompProgram.withUnsafeBytes { filter in
                    var plan = cabi_attach_plan()
                    plan.init_pidfd = initPIDFD.rawValue
                    plan.namespaces = namespaces
                    plan.cgroup_procs = cgroups.baseAddress.map { UnsafePointer($0) }
                    plan.cgroup_count = cgroups.count
                    plan.personality = personality
                    plan.drop_bounding = drop
                    plan.uid = options.uid ?? defaults.uid
                    plan.gid = options.gid ?? defaults.gid
                    plan.set_groups = options.groups != nil
                    plan.groups = groupList.baseAddress
                    plan.group_count = groupList.count
                    plan.cwd = UnsafePointer(cwdPointer)
                    plan.environment = environment.baseAddress
                    plan.no_new_privs =
                        options.flags.contains(.noNewPrivileges) || defaults.noNewPrivileges
                    plan.seccomp_filter = filter.count >= 8 ? filter.baseAddress : nil
                    plan.seccomp_instructions = filter.count / 8
                    // No notify listener in an attached process: its notify rules get ENOSYS.
                    plan.seccomp_flags = defaults.seccompFlags & ~UInt32(8)
                    plan.stdio = (options.stdin, options.stdout, options.stderr)
                    return cabi_attach_fork(&plan, function, payload, &attached)
                }
            }
        }
    }
    guard result == 0 else {
        report(c, "\(what): \(Errno(rawValue: -result))", errno: -result)
        return 0
    }
    return attached
}
