import Glibc
import LXCCapabilities
import LXCInit
import LXCMount
import LXCSystem
import Testing

@testable import LXCRuntime

@Suite(.enabled(if: isPrivileged, "starting containers needs root"))
struct RunTests {
    @Test func workloadRunsAsPID1InItsOwnNamespaces() throws {
        let script =
            "echo $$; hostname; for n in mnt pid uts ipc net; do readlink /proc/self/ns/$n; done"
        let (output, status) = try runCapturing(testPlan(["/bin/sh", "-c", script], name: "ns1"))
        #expect(status == .exited(0))
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 7)
        #expect(lines.first == "1")
        #expect(lines.dropFirst().first == "ns1")
        let names: [Namespace] = [.mount, .pid, .uts, .ipc, .network]
        for (index, namespace) in names.enumerated() where index + 2 < lines.count {
            #expect(lines[index + 2] != (try namespace.identity()))
        }
    }
}

/// A field of /proc/self/status as the container sees it.
private func statusField(_ name: String, in output: String) -> String? {
    for line in output.split(separator: "\n") where line.hasPrefix(name + ":") {
        return line.dropFirst(name.count + 1).trimmingCharacters(in: " \t")
    }
    return nil
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

@Suite(.enabled(if: isPrivileged, "starting containers needs root"))
struct IdentityTests {
    @Test func environmentAndWorkingDirectory() throws {
        var plan = testPlan(["/bin/sh", "-c", "echo $GREETING; pwd; echo $PATH"])
        plan.environment = ["PATH=/usr/bin:/bin", "GREETING=hello there"]
        plan.cwd = "/tmp"
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(output == "hello there\n/tmp\n/usr/bin:/bin\n")
    }

    @Test func userGroupAndSupplementaryGroups() throws {
        var plan = testPlan(["/bin/sh", "-c", "id -u; id -g; id -G"])
        plan.uid = 1000
        plan.gid = 1000
        plan.additionalGids = [100, 1000]
        plan.cwd = "/"
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(output == "1000\n1000\n1000 100 1000\n" || output == "1000\n1000\n1000 100\n")
    }

    @Test func capabilitiesAndNoNewPrivileges() throws {
        var plan = testPlan(["/bin/cat", "/proc/self/status"])
        let kept = CapabilitySet([
            Capability(name: "CAP_CHOWN")!, Capability(name: "net_bind_service")!,
            Capability(name: "CAP_KILL")!,
        ])
        plan.capabilities = CapabilitySets(bounding: kept, effective: kept, permitted: kept)
        plan.noNewPrivileges = true
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(statusField("CapBnd", in: output) == kept.description)
        #expect(statusField("CapEff", in: output) == kept.description)
        #expect(statusField("CapPrm", in: output) == kept.description)
        #expect(statusField("NoNewPrivs", in: output) == "1")
    }

    @Test func nonRootUserKeepsOnlyAmbientCapabilities() throws {
        var plan = testPlan(["/bin/cat", "/proc/self/status"])
        let raw = CapabilitySet([Capability(name: "CAP_NET_RAW")!])
        let bounding = CapabilitySet([
            Capability(name: "CAP_NET_RAW")!, Capability(name: "CAP_KILL")!,
        ])
        plan.uid = 1000
        plan.gid = 1000
        plan.capabilities = CapabilitySets(
            bounding: bounding, effective: raw, permitted: raw, inheritable: raw, ambient: raw)
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(statusField("CapBnd", in: output) == bounding.description)
        #expect(statusField("CapAmb", in: output) == raw.description)
        #expect(statusField("CapEff", in: output) == raw.description)
        #expect(statusField("Uid", in: output)?.hasPrefix("1000") == true)
    }

    @Test func rlimitsAndSysctlsApply() throws {
        var plan = testPlan([
            "/bin/sh", "-c", "ulimit -n; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
        ])
        plan.rlimits = [
            ContainerPlan.ResourceLimit(
                resource: Int32(RLIMIT_NOFILE.rawValue), name: "nofile", soft: 321, hard: 654)
        ]
        plan.sysctls = [("net.ipv4.ip_forward", "1"), ("kernel.shmmni", "2048")]
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(output == "321\n1\n2048\n")
        // The host's own values are untouched.
        #expect(try FileContents.readText("/proc/sys/kernel/shmmni") != "2048\n")
    }

    @Test func sysctlOutsideTheContainersNamespacesIsRefused() throws {
        var plan = testPlan(["/bin/true"])
        plan.sysctls = [("vm.swappiness", "10")]
        #expect {
            _ = try runCapturing(plan)
        } throws: { error in
            guard case .container(let failure) = error as? LaunchError else { return false }
            return failure.step == "set sysctl vm.swappiness"
                && failure.object == "vm.swappiness is not in a namespace of this container"
        }
    }

    @Test func userNamespacedRootIsAnUnprivilegedHostUser() throws {
        var plan = testPlan(["/bin/sh", "-c", "id -u; cat /proc/self/uid_map; sleep 0.2"])
        plan.newNamespaces.insert(NamespaceSet([.user]))
        plan.rootfs.bindDevices = true
        let maps = [
            IDMapping(kind: .user, containerID: 0, hostID: 100000, count: 65536),
            IDMapping(kind: .group, containerID: 0, hostID: 100000, count: 65536),
        ]
        let pipe = try Pipe()
        var request = LaunchRequest(plan: plan)
        request.idMappings = maps
        request.stdio = [-1, pipe.writeEnd.rawValue, 2]
        let container = try Launcher.start(request)
        // Seen from the host, the container's root is uid 100000.
        let hostStatus = try FileContents.readText("/proc/\(container.process.pid)/status")
        try pipe.writeEnd.close()
        let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
        let status = try container.wait()
        #expect(status == .exited(0))
        #expect(output.hasPrefix("0\n"))
        #expect(output.contains("100000"))
        #expect(statusField("Uid", in: hostStatus)?.hasPrefix("100000") == true)
    }
}

@Suite(.enabled(if: isPrivileged, "starting containers needs root"))
struct RootfsTests {
    @Test func readOnlyRootRefusesWrites() throws {
        var plan = testPlan(["/bin/sh", "-c", "touch /newfile 2>&1; echo rc=$?; touch /tmp/x"])
        plan.rootfs.readOnly = true
        let (output, _) = try runCapturing(plan)
        #expect(output.contains("Read-only file system"))
        #expect(output.contains("rc=1"))
        #expect(access(TestRootfs.path + "/newfile", F_OK) != 0)
    }

    @Test func maskedPathsReadEmptyAndReadonlyPathsRefuseWrites() throws {
        var plan = testPlan([
            "/bin/sh", "-c",
            "cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; "
                + "echo 1 > /proc/sys/kernel/domainname 2>/dev/null; echo rc=$?",
        ])
        plan.rootfs.maskedPaths = ["/proc/kcore", "/sys/firmware", "/does/not/exist"]
        plan.rootfs.readonlyPaths = ["/proc/sys"]
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(output == "0\n0\nrc=1\n")
    }

    @Test func mountEntriesAppearWithTheirOptions() throws {
        let source = "/tmp/swiftlxc-bind-\(getpid())"
        mkdir(source, 0o755)
        try FileContents.write("from the host", to: source + "/file", flags: O_WRONLY | O_CREAT)
        defer {
            _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", source]))
        }
        var plan = testPlan([
            "/bin/sh", "-c",
            "cat /mnt/data/file; echo; touch /mnt/data/new 2>/dev/null; echo rc=$?; "
                + "grep -c ' /scratch ' /proc/self/mountinfo; ls -d /deep/er/dir",
        ])
        plan.rootfs.mounts += [
            MountSpec(
                source: source, target: "/mnt/data", type: "none",
                options: try MountOptions(parsing: "bind,ro,create=dir")),
            MountSpec(
                source: "tmpfs", target: "/scratch", type: "tmpfs",
                options: try MountOptions(parsing: "size=1m,mode=1777,create=dir")),
            MountSpec(
                source: "tmpfs", target: "/deep/er/dir", type: "tmpfs",
                options: try MountOptions(parsing: "create=dir")),
        ]
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(output == "from the host\nrc=1\n1\n/deep/er/dir\n")
        #expect(access(source + "/new", F_OK) != 0)
    }

    @Test func symlinkedTargetStaysInsideTheRootfs() throws {
        // A link in the rootfs that climbs out with ../ must still resolve inside it.
        let name = "inside-\(getpid())"
        let link = TestRootfs.path + "/escape-\(getpid())"
        #expect(symlink("../../../../../tmp/\(name)", link) == 0)
        mkdir(TestRootfs.path + "/tmp/\(name)", 0o755)
        defer {
            unlink(link)
            rmdir(TestRootfs.path + "/tmp/\(name)")
        }
        var plan = testPlan(["/bin/sh", "-c", "grep -c ' /tmp/\(name) ' /proc/self/mountinfo"])
        plan.rootfs.mounts.append(
            MountSpec(
                source: "tmpfs", target: "/escape-\(getpid())", type: "tmpfs",
                options: try MountOptions(parsing: "create=dir")))
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(output == "1\n")
        #expect(access("/tmp/\(name)", F_OK) != 0, "nothing appears on the host")
    }

    @Test func devHasTheStandardNodesAndOnlyStdioReachesTheWorkload() throws {
        let (output, status) = try runCapturing(
            testPlan(["/bin/sh", "-c", "ls /proc/self/fd; ls /dev; readlink /dev/ptmx"]))
        #expect(status == .exited(0))
        let lines = output.split(separator: "\n").map(String.init)
        // Nothing but stdio, and the directory ls itself opens to list.
        let fds = lines.compactMap { Int($0) }
        #expect(Array(fds.prefix(3)) == [0, 1, 2])
        #expect(fds.count <= 4)
        for node in ["full", "null", "pts", "random", "tty", "urandom", "zero", "fd", "stdout"] {
            #expect(lines.contains(node), "missing /dev/\(node)")
        }
        #expect(lines.last == "pts/ptmx")
    }

    @Test func onlyStandardDescriptorsAreOpenAtExec() throws {
        // Read the fd table of PID 1 itself after exec: no directory listing of its own.
        let (output, status) = try runCapturing(
            testPlan(["/bin/sh", "-c", "exec /bin/ls /proc/1/fd"]))
        #expect(status == .exited(0))
        #expect(output.split(separator: "\n").filter { Int($0).map { $0 > 2 } ?? false }.count <= 1)
    }
}

@Suite(.enabled(if: isPrivileged, "starting containers needs root"))
struct StatusAndFailureTests {
    @Test(arguments: [0, 7])
    func exitStatusPropagates(code: Int32) throws {
        let (_, status) = try runCapturing(testPlan(["/bin/sh", "-c", "exit \(code)"]))
        #expect(status == .exited(code))
    }

    @Test func signalledWorkloadReports128PlusSignal() throws {
        var plan = testPlan(["/bin/sh", "-c", "kill -KILL $$"])
        plan.initMode = .minimalInit
        let (_, status) = try runCapturing(plan)
        #expect(status == .exited(128 + SIGKILL))
        var direct = testPlan(["/bin/sh", "-c", "kill -TERM $$; sleep 1"])
        direct.initMode = .exec
        let (_, directStatus) = try runCapturing(direct)
        // As PID 1 the shell only dies of signals it handles; SIGTERM is ignored by default.
        #expect(directStatus == .exited(0))
    }

    @Test func minimalInitIsPID1AndReapsAndForwardsExit() throws {
        var plan = testPlan([
            "/bin/sh", "-c", "echo $$; (sleep 0.1 &) ; cat /proc/1/cmdline; exit 3",
        ])
        plan.initMode = .minimalInit
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(3))
        let lines = output.split(separator: "\n")
        #expect(lines.first == "2", "the workload is the init's child")
        #expect(output.contains("swiftlxc-init"))
    }

    @Test func missingCommandFailsWithExecError() throws {
        let before = hostMounts()
        #expect {
            _ = try runCapturing(testPlan(["/bin/does-not-exist"]))
        } throws: { error in
            guard let error = error as? LaunchError, case .container(let failure) = error
            else { return false }
            return failure.isExecFailure && error.exitStatus == 127
                && failure.object == "/bin/does-not-exist" && failure.errno == ENOENT
        }
        #expect(hostMounts() == before)
    }

    @Test func missingRootfsFailsNamingThePath() throws {
        var plan = testPlan(["/bin/true"])
        plan.rootfs.path = "/nonexistent/rootfs"
        let before = hostMounts()
        #expect {
            _ = try runCapturing(plan)
        } throws: { error in
            guard case .container(let failure) = error as? LaunchError else { return false }
            return failure.step == "bind the root filesystem /nonexistent/rootfs"
                && failure.errno == ENOENT
        }
        #expect(hostMounts() == before)
    }

    @Test func badMountEntryFailsNamingTheEntryAndLeavesNothing() throws {
        var plan = testPlan(["/bin/true"])
        plan.rootfs.mounts.append(
            MountSpec(
                source: "none", target: "/mnt", type: "nosuchfs", options: MountOptions()))
        let before = hostMounts()
        #expect {
            _ = try runCapturing(plan)
        } throws: { error in
            guard case .container(let failure) = error as? LaunchError else { return false }
            return failure.step == "mount nosuchfs onto /mnt" && failure.call == "fsopen"
        }
        #expect(hostMounts() == before)
    }

    @Test func failedStartLeavesNoProcessBehind() throws {
        var plan = testPlan(["/bin/true"])
        plan.sysctls = [("vm.swappiness", "10")]
        let before = childProcesses()
        _ = try? runCapturing(plan)
        #expect(childProcesses() == before)
    }
}

/// Pids of this process's children, from /proc.
private func childProcesses() -> [String] {
    let me = String(getpid())
    let text = (try? FileContents.readText("/proc/\(me)/task/\(me)/children")) ?? ""
    return text.split(separator: " ").map(String.init).sorted()
}

@Suite(.enabled(if: isPrivileged, "starting containers needs root"))
struct PassedFilesTests {
    @Test func extraFilesReachTheWorkloadAsThreeAndUp() throws {
        let first = try Pipe()
        let second = try Pipe()
        let output = try Pipe()
        var request = LaunchRequest(
            plan: testPlan(["/bin/sh", "-c", "echo one >&3; echo two >&4; ls /proc/self/fd"]))
        request.stdio = [-1, output.writeEnd.rawValue, 2]
        request.extraFiles = [first.writeEnd.rawValue, second.writeEnd.rawValue]
        let container = try Launcher.start(request)
        try first.writeEnd.close()
        try second.writeEnd.close()
        try output.writeEnd.close()
        let listing = String(decoding: try output.readEnd.readAll(), as: UTF8.self)
        #expect(try container.wait() == .exited(0))
        #expect(String(decoding: try first.readEnd.readAll(), as: UTF8.self) == "one\n")
        #expect(String(decoding: try second.readEnd.readAll(), as: UTF8.self) == "two\n")
        let fds = listing.split(separator: "\n").compactMap { Int($0) }
        #expect(Array(fds.prefix(5)) == [0, 1, 2, 3, 4])
        #expect(fds.count <= 6, "only stdio, the two files, and ls's own directory")
    }

    @Test func rootfsOptionsApplyToTheRoot() throws {
        var plan = testPlan(["/bin/sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"])
        plan.rootfs.attributes = (try MountOptions(parsing: "nodev,nosuid")).attributes
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(output.contains("nosuid") && output.contains("nodev"))
    }
}
