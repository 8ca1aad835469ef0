import Glibc
import LXCSystem

/// 50 short-lived containers (`/bin/true`) launched at once with distinct ids: the wall time
/// until the last has exited, and the peak memory the burst charged to a memory cgroup.
///
/// Each container i runs the bundle `many/i` that Scripts/peers.sh wrote: the busybox bundle
/// with `linux.cgroupsPath = /swiftlxc-bench-burst/many-i`. An absolute path puts every
/// runtime's container cgroup in the same place (left to themselves, crun puts it at the
/// hierarchy root and runc and SwiftLXC below the caller's cgroup), so the bench's memory
/// cgroup `/swiftlxc-bench-burst` holds the launching processes and, below it, every container.
struct ConcurrentStartScenario: Scenario {
    let id = "concurrent-start"
    static let count = 50

    func run(_ context: BenchContext) -> [ScenarioResult] {
        var time = ScenarioResult(
            id: id, title: "\(Self.count) concurrent starts of /bin/true: total wall time")
        var memory = ScenarioResult(
            id: "\(id).memory",
            title: "\(Self.count) concurrent starts: peak memory charged to the burst's cgroup")
        var kernel = ScenarioResult(
            id: "\(id).kmem",
            title: "\(Self.count) concurrent starts: peak kernel memory in that cgroup")
        memory.unit = .memory
        kernel.unit = .memory
        let settings = context.settings.capped(runs: 5, warmups: 1)
        time.settings = settings
        memory.settings = settings
        kernel.settings = settings
        let devNull = context.devNull.rawValue
        let bundles = "\(context.peersDirectory)/many"
        guard access("\(bundles)/\(Self.count - 1)/config.json", R_OK) == 0 else {
            time.skipped = "no bundles in \(bundles): run Scripts/peers.sh first"
            return [time]
        }
        guard let cgroup = BurstCgroup.find() else {
            time.skipped = "no cgroup v1 memory hierarchy to measure the burst in"
            return [time]
        }

        var contenders: [Contender] = []
        var logs: [(total: SampleLog, kernel: SampleLog)] = []
        for runtime in ["swiftlxc", "crun", "runc"] {
            let path = runtime == "swiftlxc" ? context.swiftlxcPath : ExternalCommand.find(runtime)
            guard let path, access(path, X_OK) == 0 else { continue }
            let commands = (0..<Self.count).map { index in
                ExternalCommand(
                    path: path,
                    arguments: [
                        runtime, "run", "--bundle", "\(bundles)/\(index)",
                        "swiftlxc-bench-many-\(runtime)-\(index)",
                    ])
            }
            let cleanup = {
                guard runtime != "swiftlxc" else { return }
                for index in 0..<Self.count {
                    _ = try? programOutput(
                        [runtime, "delete", "-f", "swiftlxc-bench-many-\(runtime)-\(index)"],
                        devNull: devNull)
                }
            }
            let log = (total: SampleLog(), kernel: SampleLog())
            logs.append(log)
            contenders.append(
                .sampled(
                    runtime,
                    detail: "\(Self.count) × \(path) run --bundle \(bundles)/i ID-i",
                    isSwiftLXC: runtime == "swiftlxc", cleanup: cleanup
                ) { () throws(BenchError) -> UInt64 in
                    let burst = try Self.launch(commands, in: cgroup, devNull: devNull)
                    log.total.append(burst.peakKiB)
                    log.kernel.append(burst.kernelPeakKiB)
                    return burst.nanoseconds
                })
        }

        let measured = Harness.measure(contenders, settings: settings, label: id)
        cgroup.removeEverywhere()
        time.contenders = measured
        memory.contenders = zip(measured, logs).map { result, log in
            log.total.result(like: result, discard: 1 + settings.warmups)
        }
        kernel.contenders = zip(measured, logs).map { result, log in
            log.kernel.result(like: result, discard: 1 + settings.warmups)
        }
        let common =
            "\(settings.runs) measured runs after \(settings.warmups) warm-up, each launching "
            + "\(Self.count) processes at once with distinct ids, container i from the bundle "
            + "\(bundles)/i (the busybox bundle with linux.cgroupsPath = "
            + "/swiftlxc-bench-burst/many-i); every one must exit 0"
        let method =
            "peak memory: a fresh cgroup-v1 memory cgroup \(cgroup.directory) per burst; the "
            + "bench joins it only while it spawns the \(Self.count) processes, so they and "
            + "everything they start are charged there, and the containers' own cgroups "
            + "(cgroupsPath) are its children. The sample is memory.max_usage_in_bytes after the "
            + "last exit: the kernel's high-water mark of the pages charged to it and below it"
        let includes =
            "what that counts (Documentation/admin-guide/cgroup-v1/memory.rst): anonymous memory "
            + "of the runtime processes, their helpers and monitors and the containers (stacks, "
            + "heaps, copied-on-write pages); page cache and tmpfs pages first touched during "
            + "the burst (state files under /run; binaries and the rootfs are already cached by "
            + "the warm-up, and cached pages stay charged to whoever read them first); and "
            + "kernel memory allocated for them (page tables, kernel stacks, task and namespace "
            + "structures, mounts, sockets), which v1 feeds into the same counter. It is an "
            + "upper bound by up to 64 pages per CPU of charges the kernel caches per cgroup"
        let kmem =
            "memory.kmem.max_usage_in_bytes of the same cgroup: the kernel-memory share; its "
            + "peak need not fall at the same moment as the total's"
        time.notes = [common]
        memory.notes = [common, method, includes]
        kernel.notes = [common, kmem]
        return [time, memory, kernel]
    }

    /// Starts every command without waiting, from inside the burst's cgroup, then reaps them.
    /// Returns the wall time and the cgroup's peaks, in KiB.
    private static func launch(
        _ commands: [ExternalCommand], in cgroup: BurstCgroup, devNull: Int32
    ) throws(BenchError) -> (nanoseconds: UInt64, peakKiB: UInt64, kernelPeakKiB: UInt64) {
        try cgroup.prepare()
        defer { cgroup.remove() }
        try cgroup.join()
        let begin = monotonicNanoseconds()
        var running: [pid_t] = []
        var failure: String?
        for command in commands {
            let request = SpawnRequest(
                path: command.path, arguments: command.arguments,
                environment: command.environment, fileMap: [devNull, devNull, devNull])
            do {
                // The pidfd closes here; the child stays ours and waitpid reaps it below.
                running.append(try Spawn.start(request).pid)
            } catch {
                failure = "\(error)"
                break
            }
        }
        // The children stay in the cgroup; the bench's own polling is charged back home.
        let left = Result<Void, BenchError> { () throws(BenchError) in try cgroup.leave() }
        let deadline = begin + 60_000_000_000
        while !running.isEmpty {
            running = running.filter { pid in
                var status: Int32 = 0
                guard waitpid(pid, &status, WNOHANG) == pid else { return true }
                let exit = TerminationStatus(waitStatus: status)
                if exit != .exited(0), failure == nil { failure = "a run ended with \(exit)" }
                return false
            }
            if monotonicNanoseconds() > deadline {
                for pid in running { kill(pid, SIGKILL) }
                for pid in running { waitpid(pid, nil, 0) }
                throw BenchError("\(running.count) runs still alive after 60 s")
            }
            if !running.isEmpty { usleep(1000) }
        }
        let elapsed = monotonicNanoseconds() - begin
        try left.get()
        if let failure { throw BenchError("\(commands[0].path): \(failure)") }
        let (total, kernel) = try cgroup.peaks()
        return (elapsed, total / 1024, kernel / 1024)
    }
}

/// The cgroup-v1 memory cgroup `/swiftlxc-bench-burst` that one burst is charged to: made
/// fresh for each burst (so its high-water mark starts at zero), removed after it.
struct BurstCgroup {
    static let name = "swiftlxc-bench-burst"
    /// The cgroup's directory in the memory hierarchy.
    let directory: String
    /// The bench's own memory cgroup, where it returns after spawning.
    let home: String
    /// Every cgroup hierarchy's mount point: the runtimes make `/swiftlxc-bench-burst` in
    /// each for their container cgroups, and `removeEverywhere` takes it away again.
    let mounts: [String]

    /// The memory hierarchy from /proc/self/mountinfo and the bench's place in it, or nil
    /// when memory is not a v1 controller here.
    static func find() -> BurstCgroup? {
        guard let mountinfo = try? FileContents.readText("/proc/self/mountinfo"),
            let own = try? FileContents.readText("/proc/self/cgroup")
        else { return nil }
        var memoryMount: String?
        var mounts: [String] = []
        for line in mountinfo.split(separator: "\n") {
            // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS…] - FSTYPE SOURCE SUPEROPTIONS"
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let fields = halves[0].split(separator: " ")
            let tail = halves[1].split(separator: " ")
            guard fields.count >= 5, tail.count >= 3, tail[0].hasPrefix("cgroup") else { continue }
            mounts.append(String(fields[4]))
            if tail[0] == "cgroup", tail[2].split(separator: ",").contains("memory") {
                memoryMount = String(fields[4])
            }
        }
        // "4:memory:/some/path"
        let place = own.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[1].split(separator: ",").contains("memory") else {
                return nil
            }
            return String(parts[2])
        }.first
        guard let memoryMount, let place else { return nil }
        return BurstCgroup(
            directory: "\(memoryMount)/\(name)",
            home: place == "/" ? memoryMount : memoryMount + place, mounts: mounts)
    }

    /// Makes the cgroup afresh. One a crashed run left behind is removed first; if it cannot
    /// be (a container cgroup still below it), its high-water marks are reset instead and
    /// `peaks` subtracts what was already charged.
    ///
    /// `/swiftlxc-bench-burst` is made in the other hierarchies too, so that no runtime makes
    /// it: a SwiftLXC container that made the parent of its cgroup removes that parent's whole
    /// tree at its end, and with it the cgroups its siblings had just made (they then fail
    /// with "cgroup.procs does not exist"). With the parent in place, every runtime makes and
    /// removes only its container's own cgroup.
    func prepare() throws(BenchError) {
        rmdir(directory)
        for mount in mounts {
            let path = "\(mount)/\(Self.name)"
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw BenchError("mkdir \(path): \(String(cString: strerror(errno)))")
            }
            // A v1 cpuset starts with no CPUs and no memory nodes, and nothing can join it or
            // a child copied from it; the hierarchy root's sets are the natural ones.
            for file in ["cpuset.cpus", "cpuset.mems"] {
                guard let value = try? FileContents.readText("\(mount)/\(file)") else { continue }
                do {
                    try FileContents.write(value, to: "\(path)/\(file)")
                } catch {
                    throw BenchError("write \(path)/\(file): \(error)")
                }
            }
        }
        for file in ["memory.max_usage_in_bytes", "memory.kmem.max_usage_in_bytes"] {
            try write("0", file)
        }
        baseline.total = try read("memory.usage_in_bytes")
        baseline.kernel = try read("memory.kmem.usage_in_bytes")
    }

    /// Moves the bench into the cgroup: the children it spawns now start there.
    func join() throws(BenchError) {
        try write("\(getpid())", "cgroup.procs")
    }

    /// Moves the bench back home. Its pages stay charged where they are (v1 moves no charges
    /// unless memory.move_charge_at_immigrate says so, and it is 0 by default).
    func leave() throws(BenchError) {
        do {
            try FileContents.write("\(getpid())", to: "\(home)/cgroup.procs")
        } catch {
            throw BenchError("move the bench back to \(home): \(error)")
        }
    }

    /// The high-water marks since `prepare`, in bytes: all memory, and kernel memory alone.
    func peaks() throws(BenchError) -> (total: UInt64, kernel: UInt64) {
        let total = try read("memory.max_usage_in_bytes")
        let kernel = try read("memory.kmem.max_usage_in_bytes")
        return (total - min(total, baseline.total), kernel - min(kernel, baseline.kernel))
    }

    /// Removes the cgroup once its processes are gone; pages still charged to it (a network
    /// namespace the kernel has yet to free) keep it alive inside the kernel, not as a name.
    func remove() {
        rmdir(directory)
    }

    /// Removes `/swiftlxc-bench-burst` from every hierarchy, once the scenario is over.
    func removeEverywhere() {
        for mount in mounts { rmdir("\(mount)/\(Self.name)") }
    }

    private let baseline = Baseline()

    /// What the cgroup held when `prepare` ran; a class, so the value type can record it.
    private final class Baseline {
        var total: UInt64 = 0
        var kernel: UInt64 = 0
    }

    private func read(_ file: String) throws(BenchError) -> UInt64 {
        let path = "\(directory)/\(file)"
        guard let text = try? FileContents.readText(path),
            let value = UInt64(text.filter(\.isNumber))
        else { throw BenchError("cannot read \(path)") }
        return value
    }

    private func write(_ text: String, _ file: String) throws(BenchError) {
        do {
            try FileContents.write(text, to: "\(directory)/\(file)")
        } catch {
            throw BenchError("write \(text) to \(directory)/\(file): \(error)")
        }
    }
}
