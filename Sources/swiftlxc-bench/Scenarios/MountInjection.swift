import Glibc
import LXCSystem

/// Mount injection into a running busybox system container: a bind mount of a host
/// directory made and removed again, with `swiftlxc mount` + `swiftlxc umount` against
/// liblxc's `lxc_container.mount` + `.umount` (`Scripts/bench/lxc-inject.c`, one process
/// per call too). A run is the pair; the first run checks that the container really sees
/// the injected file, and that it is gone after the unmount.
struct MountInjectionScenario: Scenario {
    let id = "mount-injection"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        var group = ScenarioResult(
            id: id, title: "mount injection: bind a host directory in and out (mount + umount)")
        let settings = context.settings.capped(runs: 100, warmups: 5)
        group.settings = settings
        let inject = "\(context.peersDirectory)/inject"
        let helper = "\(inject)/lxc-inject"
        guard access("\(inject)/lxc.conf", R_OK) == 0 else {
            group.skipped = "no \(inject)/lxc.conf: run Scripts/peers.sh first"
            return [group]
        }
        let source = "\(inject)/source"
        let target = "/mnt/swiftlxc-bench-inject"

        let swiftlxc = SystemContainer(
            runtime: "swiftlxc", name: "bench-inject", lxcPath: "\(inject)/swiftlxc",
            configPath: "\(context.systemPath)/empty.conf",
            rootfs: "\(context.systemPath)/rootfs", swiftlxcPath: context.swiftlxcPath,
            devNull: context.devNull.rawValue)
        let lxc = SystemContainer(
            runtime: "lxc", name: "bench-inject", lxcPath: "\(inject)/lxc",
            configPath: "\(inject)/lxc.conf", rootfs: "\(context.systemPath)/rootfs",
            swiftlxcPath: context.swiftlxcPath, devNull: context.devNull.rawValue)

        var contenders: [Contender] = []
        var failed: [ContenderResult] = []
        for container in [swiftlxc, lxc] {
            let name = container.isSwiftLXC ? "swiftlxc mount" : "lxc_container.mount"
            let mount: [String]
            let unmount: [String]
            if container.isSwiftLXC {
                let selector = ["-n", container.name, "-P", container.lxcPath]
                mount = [context.swiftlxcPath, "mount"] + selector + [source, target]
                unmount = [context.swiftlxcPath, "umount"] + selector + ["-l", target]
            } else {
                mount = [helper, "mount", container.lxcPath, container.name, source, target]
                unmount = [helper, "umount", container.lxcPath, container.name, target]
            }
            do throws(BenchError) {
                guard container.isSwiftLXC || access(helper, X_OK) == 0 else {
                    throw BenchError("\(helper) was not built (gcc and lxc-dev are needed)")
                }
                try container.create()
                try container.start()
                try checkInjection(container, mount: mount, unmount: unmount, target: target)
            } catch {
                progress("mount-injection: \(name): \(error.message)")
                try? container.stop()
                failed.append(
                    ContenderResult(
                        name: name, detail: mount.joined(separator: " "),
                        isSwiftLXC: container.isSwiftLXC, outcome: .failed(error.message)))
                continue
            }
            let devNull = context.devNull.rawValue
            contenders.append(
                .sampled(
                    name,
                    detail: "\(mount.joined(separator: " ")); \(unmount.joined(separator: " "))",
                    isSwiftLXC: container.isSwiftLXC
                ) { () throws(BenchError) -> UInt64 in
                    let begin = monotonicNanoseconds()
                    try runProgram(mount, devNull: devNull, checked: true)
                    try runProgram(unmount, devNull: devNull, checked: true)
                    return monotonicNanoseconds() - begin
                })
        }

        let measured = Harness.measure(contenders, settings: settings, label: id)
        group.contenders = measured + failed
        for container in [swiftlxc, lxc] {
            try? container.stop()
            try? container.destroy()
        }
        group.notes = [
            "a run: mount \(source) at \(target) (created in the container if missing) as a "
                + "bind, then unmount it lazily: two processes for each runtime",
            "SwiftLXC: a detached mount made on the host and attached in the container's mount "
                + "namespace (empty.conf); LXC 5.0.2: the same bind through liblxc, which needs "
                + "lxc.mount.auto = shmounts:\(inject)/shmounts on a shared mount (lxc.conf)",
            "both containers run busybox init from \(context.systemPath)/rootfs and were "
                + "started once before the runs",
        ]
        return [group]
    }

    /// One untimed mount and unmount, with the container's view read through
    /// `/proc/<init>/root`: the file must appear and then go.
    private func checkInjection(
        _ container: SystemContainer, mount: [String], unmount: [String], target: String
    ) throws(BenchError) {
        let pid = try container.initPID()
        let file = "/proc/\(pid)/root\(target)/file"
        try runProgram(mount, devNull: container.devNull, checked: true)
        guard access(file, R_OK) == 0 else {
            try? runProgram(unmount, devNull: container.devNull)
            throw BenchError("the container does not see \(target)/file after the mount")
        }
        try runProgram(unmount, devNull: container.devNull, checked: true)
        guard access(file, F_OK) != 0 else {
            throw BenchError("\(target)/file is still there after the unmount")
        }
    }
}

extension SystemContainer {
    /// The container's init as the host sees it.
    func initPID() throws(BenchError) -> pid_t {
        let text: String
        if isSwiftLXC {
            let json = try programOutput(
                [swiftlxcPath, "info", "-n", name, "-P", lxcPath, "--json"], devNull: devNull)
            guard let range = json.firstRange(of: "\"pid\":") else {
                throw BenchError("no pid in \(json)")
            }
            text = String(json[range.upperBound...].prefix { $0.isNumber })
        } else {
            text = try programOutput(
                ["lxc-info", "-n", name, "-P", lxcPath, "-p", "-H"], devNull: devNull)
        }
        guard let pid = pid_t(text.filter(\.isNumber)), pid > 0 else {
            throw BenchError("\(runtime) \(name) has no init pid (\(text))")
        }
        return pid
    }
}
