import Glibc
import LXCCapabilities
import LXCCgroups
import LXCConfig
import LXCInit
import LXCNetwork
import LXCSeccomp
import LXCSystem

/// The container's cgroup: where, and what limits and device policy it gets. The host
/// makes it before the spawn and places the stage in it while the stage waits.
public struct CgroupPlan: Sendable {
    public var path: CgroupPath
    public var resources: CgroupResources?
    public var items: [CgroupItem] = []
    /// The hierarchies to create it in; detected at creation when nil. A monitor that has
    /// moved into its own cgroup passes the layout it saw before, so that the container's
    /// base is the monitor's original cgroup and not the monitor cgroup.
    public var layout: CgroupLayout?

    public init(path: CgroupPath, resources: CgroupResources? = nil, items: [CgroupItem] = []) {
        self.path = path
        self.resources = resources
        self.items = items
    }
}

/// The monitor's own cgroup (`lxc.cgroup.dir.monitor`) and where it goes when it leaves
/// (`lxc.cgroup.dir.monitor.pivot`, as `<pivot>/lxc.pivot`; nil: back where it came from).
public struct MonitorCgroupPlan: Sendable, Equatable {
    public var path: CgroupPath
    public var pivot: CgroupPath?

    public init(path: CgroupPath, pivot: CgroupPath? = nil) {
        self.path = path
        self.pivot = pivot
    }
}

extension MonitorCgroupPlan {
    /// Moves the calling process into the monitor cgroup in every hierarchy; the layout it
    /// returns is the one seen before the move, for the container's cgroup.
    func enter() throws(LaunchError) -> MonitorCgroup {
        let started = MonotonicClock.now()
        do {
            let layout = try CgroupLayout.detect()
            let cgroup = try MonitorCgroup.enter(path, pivot: pivot, layout: layout)
            Logger("monitor").debug(
                "phase monitor-cgroup-entered \(MonotonicClock.milliseconds(since: started)) ms")
            return cgroup
        } catch {
            throw .host(
                step: "enter the monitor cgroup (lxc.cgroup.dir.monitor)",
                SyscallError(error.errno, call: "cgroup", object: error.description))
        }
    }
}

extension MonitorCgroup {
    /// `leave()`, with problems logged: the container is already gone.
    func leaveLogging() {
        let started = MonotonicClock.now()
        do {
            try leave()
            Logger("monitor").debug(
                "phase monitor-cgroup-left \(MonotonicClock.milliseconds(since: started)) ms")
        } catch {
            Logger("monitor").warn("monitor cgroup removal: \(error)")
        }
    }
}

/// What the host owns for a running container, released when it stops or fails to start.
final class HostResources {
    var cgroup: ContainerCgroup?
    var network: NetworkSetup?
    /// The seccomp notify listener the stage handed over with `ready`, or -1.
    var seccompListener: Int32 = -1
    /// The container's devpts mount the stage handed over with `ready`, or -1.
    var devptsMount: Int32 = -1
    /// The container's hooks; `stop` and `post-stop` run from `release`.
    var hooks = HookSet()
    var started = false
    private let log = Logger("start")

    /// Makes the cgroup and applies its limits; nothing is placed yet.
    func createCgroup(_ plan: CgroupPlan?) throws(LaunchError) {
        guard let plan else { return }
        do {
            let layout: CgroupLayout
            if let known = plan.layout {
                layout = known
            } else {
                layout = try CgroupLayout.detect()
            }
            log.info("cgroup layout: \(layout.summary)")
            if plan.path.uniquify { ContainerCgroup.removeStale(plan.path, in: layout) }
            let cgroup = try ContainerCgroup.create(plan.path, in: layout)
            self.cgroup = cgroup
            if let resources = plan.resources { try cgroup.apply(resources) }
            if !plan.items.isEmpty { try cgroup.apply(plan.items) }
        } catch {
            // A limit the kernel refuses fails the start, which leaves nothing behind.
            if let cgroup { try? cgroup.remove() }
            cgroup = nil
            throw .host(
                step: "set up cgroups",
                SyscallError(
                    .EINVAL, call: "cgroup",
                    object: error.description))
        }
    }

    /// Puts the waiting stage into the cgroup, before it runs anything of the container's.
    func place(_ pid: pid_t) throws(LaunchError) {
        guard let cgroup else { return }
        do {
            try cgroup.place(pid: pid)
        } catch {
            throw .host(
                step: "place pid \(pid) in its cgroup",
                SyscallError(
                    .EINVAL,
                    call: "cgroup", object: error.description))
        }
    }

    /// Creates the network devices and configures both ends; rolls itself back on failure.
    func createNetwork(_ specs: [NetworkSpec], context: NetworkContext, pid: pid_t)
        throws(LaunchError)
    {
        guard !specs.isEmpty else { return }
        do {
            let netns = try FileDescriptor.open("/proc/\(pid)/ns/net", O_RDONLY)
            let network = try NetworkSetup(specs: specs, netns: netns, context: context)
            _ = try network.setup()
            self.network = network
        } catch let error as NetworkError {
            throw .network(error.description)
        } catch {
            throw .network("\(error)")
        }
    }

    /// Removes everything the host made: network devices first (phys devices go home), then
    /// the cgroup's processes and directories. Problems are logged; teardown goes on.
    func release() {
        // stop and post-stop belong to a container that ran; a failed start has no stop.
        if started {
            do {
                try hooks.run("stop", extra: ["LXC_TARGET=stop"])
            } catch {
                log.warn("\(error)")
            }
        }
        defer {
            if started {
                do {
                    try hooks.run("post-stop", extra: ["LXC_TARGET=stop"])
                } catch {
                    log.warn("\(error)")
                }
                started = false
            }
        }
        if seccompListener >= 0 {
            close(seccompListener)
            seccompListener = -1
        }
        if devptsMount >= 0 {
            close(devptsMount)
            devptsMount = -1
        }
        if let network {
            for problem in network.teardown() { log.warn("network teardown: \(problem)") }
            self.network = nil
        }
        if let cgroup {
            do {
                try cgroup.kill()
                try cgroup.remove()
            } catch {
                log.warn("cgroup removal: \(error)")
            }
            self.cgroup = nil
        }
    }
}

extension Planner {
    /// The monitor's cgroup of an LXC config: `lxc.cgroup.dir.monitor`, exact, below the
    /// same base as the container's (`lxc.cgroup.relative`), and the pivot it moves to when
    /// it leaves (`lxc.cgroup.dir.monitor.pivot`). Nil when no monitor dir is set: the
    /// monitor then stays in the cgroup it was started in (see Docs/architecture.md).
    static func lxcMonitorCgroup(_ config: ContainerConfig) throws(PlanError) -> MonitorCgroupPlan?
    {
        let cgroup = config.cgroup
        guard let monitor = cgroup.monitorDir else { return nil }
        let path: CgroupPath
        do {
            path = try .lxcIsolated(container: monitor, inner: nil, relative: cgroup.relative)
        } catch {
            throw PlanError("lxc.cgroup.dir.monitor", error.description)
        }
        guard let pivot = cgroup.monitorPivotDir else { return MonitorCgroupPlan(path: path) }
        do {
            let parked = try CgroupPath(
                base: path.base, limit: pivot + "/lxc.pivot", allowExisting: true)
            return MonitorCgroupPlan(path: path, pivot: parked)
        } catch {
            throw PlanError("lxc.cgroup.dir.monitor.pivot", error.description)
        }
    }

    /// The cgroup of an LXC config: `lxc.payload.<name>` (or `lxc.cgroup.dir`,
    /// `lxc.cgroup.dir.container[.inner]`, `lxc.cgroup.relative`) with its raw items.
    static func lxcCgroup(_ config: ContainerConfig, name: String) throws(PlanError) -> CgroupPlan {
        let cgroup = config.cgroup
        do {
            let path: CgroupPath
            if let container = cgroup.containerDir {
                path = try .lxcIsolated(
                    container: container, inner: cgroup.containerInnerDir,
                    relative: cgroup.relative)
            } else {
                path = try .lxcPayload(name: name, dir: cgroup.dir, relative: cgroup.relative)
            }
            var items: [CgroupItem] = []
            for item in cgroup.v1 {
                items.append(try CgroupItem(key: "lxc.cgroup.\(item.key)", value: item.value))
            }
            for item in cgroup.v2 {
                items.append(try CgroupItem(key: "lxc.cgroup2.\(item.key)", value: item.value))
            }
            return CgroupPlan(path: path, items: items)
        } catch {
            throw PlanError("lxc.cgroup", error.description)
        }
    }

    /// The cgroup of an OCI bundle: `linux.cgroupsPath` and `linux.resources`.
    static func ociCgroup(_ config: ContainerConfig, id: String) throws(PlanError) -> CgroupPlan {
        let path: CgroupPath
        do {
            path = try .oci(cgroupsPath: config.cgroup.path, containerID: id)
        } catch {
            throw PlanError("linux.cgroupsPath", error.description)
        }
        guard let oci = config.cgroup.resources else { return CgroupPlan(path: path) }
        var resources = CgroupResources()
        if let memory = oci.memory {
            resources.memory = CgroupResources.Memory(
                limit: memory.limit, reservation: memory.reservation, swap: memory.swap,
                kernel: memory.kernel, kernelTCP: memory.kernelTCP,
                swappiness: memory.swappiness, disableOOMKiller: memory.disableOOMKiller)
        }
        if let cpu = oci.cpu {
            resources.cpu = CgroupResources.CPU(
                shares: cpu.shares, quota: cpu.quota, period: cpu.period,
                realtimeRuntime: cpu.realtimeRuntime, realtimePeriod: cpu.realtimePeriod,
                cpus: cpu.cpus, mems: cpu.mems, idle: cpu.idle)
        }
        resources.pidsLimit = oci.pids?.limit
        if let io = oci.blockIO {
            func throttle(_ list: [OCISpec.ThrottleDevice]?) -> [CgroupResources.ThrottleDevice] {
                (list ?? []).map { .init(major: $0.major, minor: $0.minor, rate: $0.rate) }
            }
            resources.blockIO = CgroupResources.BlockIO(
                weight: io.weight, leafWeight: io.leafWeight,
                weightDevice: (io.weightDevice ?? []).map {
                    .init(
                        major: $0.major, minor: $0.minor, weight: $0.weight,
                        leafWeight: $0.leafWeight)
                },
                throttleReadBpsDevice: throttle(io.throttleReadBpsDevice),
                throttleWriteBpsDevice: throttle(io.throttleWriteBpsDevice),
                throttleReadIOPSDevice: throttle(io.throttleReadIOPSDevice),
                throttleWriteIOPSDevice: throttle(io.throttleWriteIOPSDevice))
        }
        resources.hugepageLimits = (oci.hugepageLimits ?? []).map {
            .init(pageSize: $0.pageSize, limit: $0.limit)
        }
        resources.unified = oci.unified ?? [:]
        if let rules = oci.devices {
            // OCI lists rules in order after an implicit deny-all. The default nodes the
            // runtime creates stay usable: their rules go last, after any deny-all of the
            // spec, as runc appends them (so `devices.list` starts with the spec's rules).
            var list = [DeviceRule.denyAll]
            for rule in rules {
                let kind: DeviceRule.Kind
                switch rule.type ?? "a" {
                case "a": kind = .all
                case "b": kind = .block
                case "c", "u": kind = .character
                default:
                    throw PlanError("linux.resources.devices", "unknown type \(rule.type ?? "")")
                }
                list.append(
                    DeviceRule(
                        allow: rule.allow, kind: kind, major: rule.major, minor: rule.minor,
                        access: rule.access ?? "rwm"))
            }
            list += DeviceRule.defaultAllowed
            resources.devices = list
        }
        return CgroupPlan(path: path, resources: resources)
    }

    /// The seccomp program of `lxc.seccomp.profile` or OCI `linux.seccomp`, compiled with
    /// libseccomp on the host; the stage installs the bytes itself.
    static func seccompFilter(
        _ config: ContainerConfig, flavor: Flavor, bounding: CapabilitySets?
    ) throws(PlanError) -> CompiledFilter? {
        let policy: SeccompPolicy
        if let path = config.seccomp.profilePath, flavor == .lxc {
            do {
                policy = try LXCPolicyParser.load(contentsOf: path)
            } catch {
                throw PlanError("lxc.seccomp.profile", error.description)
            }
        } else if let oci = config.seccomp.oci {
            let mapped = OCISeccompPolicy(
                defaultAction: oci.defaultAction, defaultErrnoRet: oci.defaultErrnoRet,
                architectures: oci.architectures, flags: oci.flags, listenerPath: oci.listenerPath,
                listenerMetadata: oci.listenerMetadata,
                syscalls: (oci.syscalls ?? []).map { rule in
                    OCISeccompPolicy.Syscall(
                        names: rule.names, action: rule.action, errnoRet: rule.errnoRet,
                        args: rule.args?.map {
                            .init(
                                index: $0.index, value: $0.value, valueTwo: $0.valueTwo, op: $0.op)
                        })
                })
            let capabilities = Set(
                (bounding?.bounding ?? CapabilitySets.currentBoundingSet()).members.map(\.name))
            do {
                policy = try mapped.policy(file: "config.json", capabilities: capabilities)
            } catch {
                throw PlanError("linux.seccomp", error.description)
            }
        } else {
            return nil
        }
        do {
            return try SeccompCompiler.compile(policy)
        } catch {
            throw PlanError(
                flavor == .lxc ? "lxc.seccomp.profile" : "linux.seccomp",
                error.description)
        }
    }

    /// `lxc.net.N` as the network library's specs; `none` and `empty` need no devices.
    static func networkSpecs(_ config: ContainerConfig) -> [NetworkSpec] {
        config.networks.filter { !["none", "empty", ""].contains($0.type) }.map { network in
            var spec = NetworkSpec(index: network.index, type: network.type)
            spec.up = network.up
            spec.link = network.link
            spec.name = network.name
            spec.hwaddr = network.hwaddr
            spec.mtu = network.mtu
            spec.ipv4Addresses = network.ipv4Addresses
            spec.ipv6Addresses = network.ipv6Addresses
            spec.ipv4Gateway = network.ipv4Gateway
            spec.ipv6Gateway = network.ipv6Gateway
            spec.vethPair = network.vethPair
            spec.vethMode = network.vethMode
            spec.vethIPv4Routes = network.vethIPv4Routes
            spec.vethIPv6Routes = network.vethIPv6Routes
            spec.vethVlanID = network.vethVlanID
            spec.vethTaggedVlanIDs = network.vethTaggedVlanIDs
            spec.macvlanMode = network.macvlanMode
            spec.ipvlanMode = network.ipvlanMode
            spec.ipvlanIsolation = network.ipvlanIsolation
            spec.vlanID = network.vlanID
            spec.l2proxy = network.l2proxy
            spec.scriptUp = network.scriptUp
            spec.scriptDown = network.scriptDown
            return spec
        }
    }
}
