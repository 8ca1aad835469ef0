import CShim
import Glibc
import LXCSystem

/// Issue 2's micro-benchmark: starting `/bin/true` in five new namespaces with SwiftLXC's
/// vfork-style `Spawn.start` against `fork` + `unshare` + `execve`, first from the small
/// process the bench starts as, then after it has grown to about 2 GiB of resident memory.
/// Fork copies the parent's page tables, so its cost grows with the parent; a vfork-style
/// clone shares the memory and should not.
struct SpawnScenario: Scenario {
    let id = "spawn"

    static let namespaces: [Namespace] = [.mount, .pid, .uts, .ipc, .network]

    func run(_ context: BenchContext) -> [ScenarioResult] {
        let names = Self.namespaces.map(\.procName).joined(separator: ",")
        let devNull = context.devNull.rawValue
        // Built here, outside the timed region: a careful fork+exec caller prepares its
        // pointers once, and the plan must exist before any fork anyway.
        let plan = ForkPlan(devNull: devNull)
        let contenders = [
            Contender(
                name: "swiftlxc Spawn.start",
                detail: "clone(CLONE_VM|CLONE_VFORK|CLONE_NEW{\(names)}) + execve /bin/true",
                isSwiftLXC: true,
                body: { () throws(BenchError) in try Self.vforkSpawn(devNull: devNull) }),
            Contender(
                name: "fork+exec",
                detail: "fork(), child: unshare(\(names)) + execve /bin/true",
                isSwiftLXC: false,
                body: { () throws(BenchError) in try plan.run() }),
        ]

        let smallRSS = residentMiB()
        progress("spawn: small parent (\(smallRSS) MiB resident)")
        var small = ScenarioResult(
            id: "spawn.small", title: "spawn /bin/true into 5 namespaces, small parent")
        small.contenders = Harness.measure(
            contenders, settings: context.settings, label: "spawn.small")
        small.notes = ["parent resident set \(smallRSS) MiB"]

        var large = ScenarioResult(
            id: "spawn.large",
            title: "spawn /bin/true into 5 namespaces, \(context.largeParentMiB) MiB parent")
        let ballast: LargeParent
        do {
            ballast = try LargeParent(mebibytes: context.largeParentMiB)
        } catch {
            large.skipped = "could not grow the parent: \(error.message)"
            return [small, large]
        }
        let largeRSS = residentMiB()
        progress("spawn: large parent (\(largeRSS) MiB resident)")
        large.contenders = Harness.measure(
            contenders, settings: context.settings, label: "spawn.large")
        large.notes = ["parent resident set \(largeRSS) MiB, 4 KiB pages (MADV_NOHUGEPAGE)"]
        withExtendedLifetime(ballast) {}

        addGrowthNotes(small: &small, large: &large)
        return [small, large]
    }

    /// States how much each method slowed down when the parent grew: the point of issue 2.
    private func addGrowthNotes(small: inout ScenarioResult, large: inout ScenarioResult) {
        for (before, after) in zip(small.contenders, large.contenders) {
            guard let a = before.statistics?.median, let b = after.statistics?.median, a > 0
            else { continue }
            large.notes.append(
                "\(after.name): median \(milliseconds(a)) ms small -> \(milliseconds(b)) ms "
                    + "large (x\(fixed(b / a, 2)))")
        }
        large.notes.append(
            "the pid namespace: Spawn.start makes /bin/true its PID 1; unshare(CLONE_NEWPID) "
                + "creates it for children only, as fork+exec callers must fork again")
    }

    private static func vforkSpawn(devNull: Int32) throws(BenchError) {
        let request = SpawnRequest(
            path: "/bin/true", arguments: ["true"], fileMap: [devNull, devNull, devNull],
            namespaces: NamespaceSet(namespaces))
        let status: TerminationStatus
        do {
            status = try Spawn.run(request)
        } catch {
            throw BenchError("\(error)")
        }
        guard status == .exited(0) else { throw BenchError("/bin/true: \(status)") }
    }
}

/// Everything the fork child touches, built once before any fork: after `fork` the child
/// calls only C functions with these pointers, because Swift code there may allocate and a
/// malloc lock held at fork time would never be released in the child.
private final class ForkPlan {
    let path: UnsafeMutablePointer<CChar>
    let argv: CStringArray
    let envp: CStringArray
    let flags: Int32
    let devNull: Int32

    init(devNull: Int32) {
        path = strdup("/bin/true")
        argv = CStringArray(["true"])
        envp = CStringArray([])
        flags = NamespaceSet(SpawnScenario.namespaces).rawValue
        self.devNull = devNull
    }

    deinit { free(path) }

    func run() throws(BenchError) {
        // Copied to locals so the child reads plain values, not class storage.
        let path = self.path
        let argv = UnsafePointer(self.argv.pointers)
        let envp = UnsafePointer(self.envp.pointers)
        let flags = self.flags
        let devNull = self.devNull

        // The child never returns into Swift and never flushes stdio (execve or _exit), so
        // buffered output cannot be written twice.
        let pid = fork()
        if pid == 0 {
            if CShim.unshare(flags) != 0 { _exit(126) }
            dup2(devNull, 0)
            dup2(devNull, 1)
            dup2(devNull, 2)
            execve(path, argv, envp)
            _exit(127)
        }
        guard pid > 0 else { throw BenchError("fork: \(Errno.current)") }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw BenchError("waitpid: \(Errno.current)") }
        }
        let exit = TerminationStatus(waitStatus: status)
        guard exit == .exited(0) else {
            let reason = exit == .exited(126) ? " (unshare failed in the child)" : ""
            throw BenchError("fork+exec /bin/true: \(exit)\(reason)")
        }
    }
}

/// Anonymous memory, every page touched, so the process really has that resident set. It is
/// private and writable, like a daemon's heap, which is what makes fork copy page tables.
private final class LargeParent {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(mebibytes: Int) throws(BenchError) {
        size = mebibytes << 20
        guard
            let memory = mmap(
                nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            memory != MAP_FAILED
        else { throw BenchError("mmap \(mebibytes) MiB: \(Errno.current)") }
        base = memory
        // Transparent huge pages would make the page tables 512 times smaller and hide the
        // cost a heap of small allocations has; the machine's THP mode must not decide that.
        madvise(base, size, MADV_NOHUGEPAGE)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        for offset in stride(from: 0, to: size, by: page) {
            base.storeBytes(of: UInt8(1), toByteOffset: offset, as: UInt8.self)
        }
    }

    deinit { munmap(base, size) }
}

/// This process's resident set from `/proc/self/status`, in MiB; -1 when unreadable.
func residentMiB() -> Int {
    guard let status = try? FileContents.readText("/proc/self/status") else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let digits = line.dropFirst(6).filter(\.isNumber)
        return (Int(String(digits)) ?? -1) / 1024
    }
    return -1
}
