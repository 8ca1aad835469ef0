import CShim
import Glibc
import LXCInit
import LXCMount
import LXCRuntime
import LXCSystem
import Testing

@testable import LXC

/// runc's lifecycle through the `swiftlxc` command line, as conmon and containerd's shim
/// drive it: every verb is its own process.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct OCILifecycleTests {
    private static let package = String(#filePath).split(separator: "/").dropLast(3)
        .joined(separator: "/")
    private static let swiftlxc = "/\(package)/.build/debug/swiftlxc"

    /// A fresh runtime root and bundle directory, removed when the test ends.
    final class Scratch {
        let root: String
        let bundle: String
        let directory: String
        init(_ tag: String) {
            directory = "/tmp/swiftlxc-oci-\(getpid())-\(tag)"
            root = directory + "/root"
            bundle = directory + "/bundle"
            mkdir(directory, 0o755)
            mkdir(bundle, 0o755)
        }
        deinit {
            for id in OCIStateDirectory.ids(in: root) {
                try? OCIRuntime(root: root).delete(id, force: true)
            }
            _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", directory]))
        }

        /// Writes config.json from the `crun spec` fixture: the test rootfs, `script` run by
        /// `/bin/sh -c`, and `edit` applied to the text last.
        func writeConfig(
            _ script: String, terminal: Bool = false, edit: (String) -> String = { $0 }
        )
            throws
        {
            var spec = try FileContents.readText(
                "/\(package)/Tests/LXCConfigTests/Fixtures/crun-spec.json")
            spec = spec.replacing("\"path\": \"rootfs\"", with: "\"path\": \"\(rootfs)\"")
            spec = spec.replacing("\"sh\"", with: "\"/bin/sh\", \"-c\", \(JSONText.quote(script))")
            spec = spec.replacing("\"terminal\": true", with: "\"terminal\": \(terminal)")
            try FileContents.write(
                edit(spec), to: bundle + "/config.json", flags: O_WRONLY | O_CREAT | O_TRUNC)
        }

        /// Runs `swiftlxc --root ROOT ARGUMENTS`; the container's stdio (and the verb's
        /// stdout) go to `output`, so a waiting or running container blocks nothing.
        @discardableResult
        func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let out = directory + "/stdout"
            let err = directory + "/stderr"
            let outFD = try FileDescriptor.open(out, O_WRONLY | O_CREAT | O_TRUNC)
            let errFD = try FileDescriptor.open(err, O_WRONLY | O_CREAT | O_TRUNC)
            let status = try Spawn.run(
                SpawnRequest(
                    path: swiftlxc, arguments: ["swiftlxc", "--root", root] + arguments,
                    fileMap: [-1, outFD.rawValue, errFD.rawValue]))
            return (
                status.shellStatus, try FileContents.readText(out), try FileContents.readText(err)
            )
        }

        func status(_ id: String) throws -> String {
            let (code, text, _) = try run(["state", id])
            guard code == 0 else { return "none" }
            return text.split(separator: "\n").first { $0.contains("\"status\"") }
                .map { String($0.split(separator: "\"")[3]) } ?? "?"
        }

        func waitFor(_ wanted: String, _ id: String) throws -> Bool {
            for _ in 0..<300 {
                if try status(id) == wanted { return true }
                usleep(10000)
            }
            return false
        }
    }

    private static func parentPID(of pid: pid_t) -> pid_t? {
        let text = (try? FileContents.readText("/proc/\(pid)/status")) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("PPid:") }
        return line.flatMap {
            pid_t($0.dropFirst(5).trimmingPrefix(while: { $0 == "\t" || $0 == " " }))
        }
    }

    @Test func createStartKillDeleteFromTheCommandLine() throws {
        let scratch = Scratch("cycle")
        try scratch.writeConfig("echo hello from $$; exec sleep 100")
        // The caller of create (conmon, a shim) is a child subreaper: the init is its child
        // once create has exited.
        try ProcessControl.prctl(PR_SET_CHILD_SUBREAPER, 1)
        defer { _ = try? ProcessControl.prctl(PR_SET_CHILD_SUBREAPER, 0) }
        let pidFile = scratch.directory + "/pid"
        let created = try scratch.run([
            "create", "--bundle", scratch.bundle, "--pid-file", pidFile, "c1",
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let pid = pid_t(try FileContents.readText(pidFile)) ?? -1
        #expect(pid > 0)
        #expect(Self.parentPID(of: pid) == getpid(), "the init is the create caller's child")
        #expect(try scratch.status("c1") == "created")
        let stateFile = scratch.root + "/c1/state.json"
        let record = try OCIStateDirectory.open(root: scratch.root, id: "c1", shared: true).load()
        let cgroups = record.cgroup?.members.map(\.limitDirectory) ?? []
        #expect(!cgroups.isEmpty)
        #expect(cgroups.allSatisfy { access($0, F_OK) == 0 })

        let state = try scratch.run(["state", "c1"]).stdout
        #expect(state.contains("\"id\": \"c1\""))
        #expect(state.contains("\"pid\": \(pid)"))
        #expect(state.contains("\"bundle\": \"\(scratch.bundle)\""))
        let listed = try scratch.run(["list", "--format", "json"]).stdout
        #expect(listed.contains("\"status\":\"created\""))

        #expect(try scratch.run(["start", "c1"]).status == 0)
        #expect(try scratch.status("c1") == "running")
        let again = try scratch.run(["start", "c1"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("it is running, not created"))
        let ps = try scratch.run(["ps", "--format", "json", "c1"]).stdout
        #expect(ps == "[\(pid)]\n")

        let refused = try scratch.run(["delete", "c1"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("not stopped: running"))
        #expect(try scratch.run(["kill", "c1", "KILL"]).status == 0)
        #expect(try scratch.waitFor("stopped", "c1"))
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid, "this process reaps the init")
        #expect(try scratch.run(["kill", "c1"]).stderr.contains("not running"))
        #expect(try scratch.run(["delete", "c1"]).status == 0)
        #expect(access(stateFile, F_OK) != 0)
        #expect(access(scratch.root + "/c1", F_OK) != 0)
        #expect(cgroups.allSatisfy { access($0, F_OK) != 0 }, "delete removes the cgroups")
        #expect(try scratch.run(["state", "c1"]).stderr.contains("container c1 does not exist"))
    }

    @Test func theProcessRunsOnlyAfterStartAndGetsPreservedFiles() throws {
        let scratch = Scratch("start")
        try scratch.writeConfig("echo started; cat <&3; exec sleep 100")
        let extra = scratch.directory + "/extra"
        try FileContents.write("from fd 3\n", to: extra, flags: O_WRONLY | O_CREAT | O_TRUNC)
        // fd 3 of the create process: Spawn.run maps the file there.
        let out = scratch.directory + "/container-out"
        let outFD = try FileDescriptor.open(out, O_WRONLY | O_CREAT | O_TRUNC)
        let extraFD = try FileDescriptor.open(extra, O_RDONLY)
        let status = try Spawn.run(
            SpawnRequest(
                path: Self.swiftlxc,
                arguments: [
                    "swiftlxc", "--root", scratch.root, "create", "--preserve-fds", "1", "--bundle",
                    scratch.bundle, "c2",
                ],
                fileMap: [-1, outFD.rawValue, outFD.rawValue, extraFD.rawValue]))
        #expect(status == .exited(0))
        usleep(100_000)
        #expect(try FileContents.readText(out) == "", "nothing runs before start")
        #expect(try scratch.run(["start", "c2"]).status == 0)
        var text = ""
        for _ in 0..<200 where !text.contains("fd 3") {
            usleep(10000)
            text = try FileContents.readText(out)
        }
        #expect(text == "started\nfrom fd 3\n")
        let forced = try scratch.run(["delete", "--force", "c2"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(OCIStateDirectory.ids(in: scratch.root).isEmpty)
    }

    @Test func badInputGivesClearErrorsAndLeavesNothing() throws {
        let scratch = Scratch("bad")
        try scratch.writeConfig("exec sleep 100")
        let missing = try scratch.run(["create", "--bundle", scratch.directory + "/nope", "x1"])
        #expect(missing.status == 1)
        #expect(
            missing.stderr.contains("bundle \(scratch.directory)/nope: no such file or directory"))
        let badID = try scratch.run(["create", "--bundle", scratch.bundle, "../x"])
        #expect(badID.status == 1)
        #expect(badID.stderr.contains("invalid container id"))
        for verb in ["start", "state", "kill", "delete", "pause", "ps"] {
            let unknown = try scratch.run([verb, "ghost"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("container ghost does not exist"), "\(verb)")
        }
        #expect(try scratch.run(["delete", "--force", "ghost"]).status == 0)
        // A config the runtime refuses: the error names the key, and no state stays.
        try scratch.writeConfig("true") { spec in
            spec.replacing(
                "\"process\": {",
                with:
                    "\"hooks\": {\"createContainer\": [{\"path\": \"true\"}]}, \"process\": {")
        }
        let refused = try scratch.run(["create", "--bundle", scratch.bundle, "x2"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("hooks.createContainer"))
        #expect(OCIStateDirectory.ids(in: scratch.root).isEmpty)

        try scratch.writeConfig("exec sleep 100")
        #expect(try scratch.run(["create", "--bundle", scratch.bundle, "twice"]).status == 0)
        let second = try scratch.run(["create", "--bundle", scratch.bundle, "twice"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("container twice already exists"))
        #expect(try scratch.status("twice") == "created", "the first one is untouched")
        // A created container that never started is deleted without --force, as runc does.
        #expect(try scratch.run(["delete", "twice"]).status == 0)
        #expect(OCIStateDirectory.ids(in: scratch.root).isEmpty)
    }

    @Test func hooksRunInOrderWithTheStateOnStdin() throws {
        let scratch = Scratch("hooks")
        let log = scratch.directory + "/hooks.log"
        func hook(_ stage: String) -> String {
            let script =
                "read -r state; echo \(stage) $HOOK_ENV $0 ${state#*\\\"status\\\":} >> \(log)"
            return
                "{\"path\": \"/bin/sh\", \"args\": [\"\(stage)-arg0\", \"-c\", \(JSONText.quote(script))],"
                + " \"env\": [\"HOOK_ENV=env-\(stage)\"], \"timeout\": 5}"
        }
        let stages = ["prestart", "createRuntime", "poststart", "poststop"]
        let hooks = stages.map { "\"\($0)\": [\(hook($0))]" }.joined(separator: ", ")
        try scratch.writeConfig("exec sleep 100") { spec in
            spec.replacing("\"process\": {", with: "\"hooks\": {\(hooks)}, \"process\": {")
        }
        let created = try scratch.run(["create", "--bundle", scratch.bundle, "h1"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try scratch.run(["start", "h1"]).status == 0)
        #expect(try scratch.run(["delete", "--force", "h1"]).status == 0)
        let lines = try FileContents.readText(log).split(separator: "\n").map {
            $0.split(separator: ",").first.map(String.init) ?? ""
        }
        #expect(
            lines == [
                "prestart env-prestart prestart-arg0 \"creating\"",
                "createRuntime env-createRuntime createRuntime-arg0 \"creating\"",
                "poststart env-poststart poststart-arg0 \"running\"",
                "poststop env-poststop poststop-arg0 \"stopped\"",
            ])

        // A failing createRuntime hook fails create, naming it, and leaves nothing.
        try scratch.writeConfig("exec sleep 100") { spec in
            spec.replacing(
                "\"process\": {",
                with: "\"hooks\": {\"createRuntime\": [{\"path\": \"/bin/false\"}]}, \"process\": {"
            )
        }
        let failed = try scratch.run(["create", "--bundle", scratch.bundle, "h2"])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("hooks.createRuntime[0] /bin/false"))
        #expect(OCIStateDirectory.ids(in: scratch.root).isEmpty)
    }

    @Test func theConsoleSocketReceivesTheTerminal() throws {
        let scratch = Scratch("tty")
        try scratch.writeConfig("tty; echo hello on the terminal; exec sleep 100", terminal: true)
        let socketPath = scratch.directory + "/console.sock"
        let listener = FileDescriptor(
            owning: socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { target in
            for (index, byte) in socketPath.utf8.enumerated() { target[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(listen(listener.rawValue, 1) == 0)
        let refused = try scratch.run(["create", "--bundle", scratch.bundle, "t0"])
        #expect(refused.stderr.contains("--console-socket is required"))
        let created = try scratch.run([
            "create", "--bundle", scratch.bundle, "--console-socket", socketPath, "t1",
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let connection = FileDescriptor(owning: accept(listener.rawValue, nil, nil))
        let message = try connection.receive(capacity: 256, maxDescriptors: 1)
        #expect(String(decoding: message.bytes, as: UTF8.self).hasPrefix("/dev/pts/"))
        #expect(message.descriptors.count == 1)
        guard let controller = message.descriptors.take(0) else { return }
        var number: UInt32 = 0
        // TIOCGPTN: only a pty controller answers it.
        #expect(ioctl(controller.rawValue, 0x8004_5430, &number) == 0, "a pty controller")
        #expect(try scratch.run(["start", "t1"]).status == 0)
        var output = ""
        var buffer = [UInt8](repeating: 0, count: 512)
        var entry = pollfd(fd: controller.rawValue, events: Int16(POLLIN), revents: 0)
        while !output.contains("hello on the terminal"), poll(&entry, 1, 3000) == 1 {
            let count = read(controller.rawValue, &buffer, buffer.count)
            if count <= 0 { break }
            output += String(decoding: buffer[0..<count], as: UTF8.self)
        }
        #expect(output.contains("/dev/console"), "the terminal is the init's controlling tty")
        #expect(output.contains("hello on the terminal\r\n"))
        #expect(try scratch.run(["delete", "--force", "t1"]).status == 0)
    }

    /// What the OCI runtime-tools validation suite found (Scripts/oci-validation.sh): the
    /// default nodes stay usable when allow rules follow a deny-all in
    /// `linux.resources.devices`, a bind mount with an atime option mounts, and a failing
    /// `poststop` hook lets the later ones run.
    @Test func validationSuiteFindings() throws {
        let scratch = Scratch("conformance")
        // The fixture's deny-all, then an allow rule.
        let devices =
            ", {\"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\": \"rwm\"}"
        let mount =
            "{\"destination\": \"/mnt/etc\", \"source\": \"/etc\", "
            + "\"options\": [\"bind\", \"nosuid\", \"strictatime\", \"shared\"]}, "
        let marker = scratch.directory + "/poststop-ran"
        let hooks =
            "\"hooks\": {\"poststop\": [{\"path\": \"/bin/false\"}, "
            + "{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo ran > \(marker)\"]}]}, "
        try scratch.writeConfig("echo x > /dev/null && exec sleep 100") { spec in
            spec.replacing("\"access\": \"rwm\"\n\t\t\t\t}", with: "\"access\": \"rwm\"}\(devices)")
                .replacing("\"mounts\": [", with: "\"mounts\": [\(mount)")
                .replacing("\"process\": {", with: "\(hooks)\"process\": {")
        }
        let config = try FileContents.readText(scratch.bundle + "/config.json")
        #expect(config.contains("\"minor\": 229") && config.contains("/mnt/etc"))
        let created = try scratch.run(["create", "--bundle", scratch.bundle, "v1"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try scratch.run(["start", "v1"]).status == 0)
        usleep(200_000)
        #expect(try scratch.status("v1") == "running", "/dev/null is writable")
        let deleted = try scratch.run(["delete", "--force", "v1"])
        #expect(deleted.status == 0)
        #expect(deleted.stderr.contains("hooks.poststop[0] /bin/false"))
        #expect(try FileContents.readText(marker) == "ran\n", "the second poststop hook ran")
    }

    @Test func pauseAndResumeFreezeTheContainer() throws {
        let scratch = Scratch("pause")
        try scratch.writeConfig("exec sleep 100")
        #expect(try scratch.run(["create", "--bundle", scratch.bundle, "p1"]).status == 0)
        #expect(try scratch.run(["start", "p1"]).status == 0)
        #expect(try scratch.run(["pause", "p1"]).status == 0)
        #expect(try scratch.status("p1") == "paused")
        #expect(try scratch.run(["resume", "p1"]).status == 0)
        #expect(try scratch.status("p1") == "running")
        #expect(try scratch.run(["kill", "--all", "p1", "9"]).status == 0)
        #expect(try scratch.waitFor("stopped", "p1"))
        #expect(try scratch.run(["delete", "p1"]).status == 0)
    }

    @Test func execRunsAProcessInTheRunningContainer() throws {
        let scratch = Scratch("exec")
        try scratch.writeConfig("exec sleep 100")
        #expect(try scratch.run(["exec", "e1", "/bin/true"]).stderr.contains("does not exist"))
        #expect(try scratch.run(["create", "--bundle", scratch.bundle, "e1"]).status == 0)
        #expect(try scratch.run(["start", "e1"]).status == 0)
        let shell = try scratch.run(["exec", "e1", "/bin/sh", "-c", "echo $$ $(hostname); exit 7"])
        #expect(shell.status == 7)
        #expect(shell.stdout == "2 crun\n", "in the container's pid and uts namespaces")
        let process = scratch.directory + "/process.json"
        try FileContents.write(
            "{\"args\": [\"/bin/sh\", \"-c\", \"echo $FOO $(pwd) $(id -u)\"], \"env\": [\"FOO=bar\"],"
                + " \"cwd\": \"/tmp\", \"user\": {\"uid\": 1000, \"gid\": 1000}}",
            to: process, flags: O_WRONLY | O_CREAT | O_TRUNC)
        let fromFile = try scratch.run(["exec", "--process", process, "e1"])
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        #expect(fromFile.stdout == "bar /tmp 1000\n")
        let pidFile = scratch.directory + "/exec.pid"
        let detached = try scratch.run([
            "exec", "--detach", "--pid-file", pidFile, "e1", "/bin/sleep", "50",
        ])
        #expect(detached.status == 0)
        let pid = pid_t(try FileContents.readText(pidFile)) ?? -1
        #expect(try scratch.run(["ps", "--format", "json", "e1"]).stdout.contains("\(pid)"))
        #expect(try scratch.run(["delete", "--force", "e1"]).status == 0)
        #expect(OCIStateDirectory.ids(in: scratch.root).isEmpty)
    }

    @Test func signalNames() {
        #expect(OCIRuntime.signal(named: "KILL") == SIGKILL)
        #expect(OCIRuntime.signal(named: "SIGTERM") == SIGTERM)
        #expect(OCIRuntime.signal(named: "15") == SIGTERM)
        #expect(OCIRuntime.signal(named: "RTMIN+2") == 36)
        #expect(OCIRuntime.signal(named: "NOPE") == nil)
    }
}

/// OCI's in-container hooks: `createContainer` (create, before `pivot_root`, path on the
/// host) and `startContainer` (start, path in the container), run by the stage.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct OCIContainerHookTests {
    typealias Scratch = OCILifecycleTests.Scratch

    /// A hook entry running `script` (a file) with PATH set and an argv[0] naming it.
    private static func hook(_ stage: String, _ script: String) -> String {
        "{\"path\": \"\(script)\", \"args\": [\"\(stage)-arg0\"],"
            + " \"env\": [\"PATH=/usr/sbin:/usr/bin:/sbin:/bin\", \"STAGE=\(stage)\"], \"timeout\": 5}"
    }

    /// config.json with `hooks` and the directory `shared` bound at `/shared`.
    private static func configure(_ scratch: Scratch, hooks: String) throws {
        let shared = scratch.directory + "/shared"
        mkdir(shared, 0o755)
        try scratch.writeConfig("exec sleep 100") { spec in
            spec.replacing("\"process\": {", with: "\"hooks\": {\(hooks)}, \"process\": {")
                .replacing(
                    "\"mounts\": [",
                    with:
                        "\"mounts\": [{\"destination\": \"/shared\", \"type\": \"bind\", \"source\": "
                        + "\"\(shared)\", \"options\": [\"rbind\", \"rw\"]},")
        }
    }

    /// A hook script that logs its stage, its path (a script's `$0`), hostname, the status in its state and
    /// its mount and uts namespaces to `log` (a path where the hook runs).
    private static func writeScript(_ path: String, log: String) throws {
        let script = """
            #!/bin/sh
            read -r state
            status=${state#*\\"status\\":\\"}
            echo "$STAGE $0 $(hostname) ${status%%\\"*} $(readlink /proc/self/ns/mnt) \
            $(readlink /proc/self/ns/uts)" >> \(log)
            [ "$STAGE" != fail ]

            """
        try FileContents.write(script, to: path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        chmod(path, 0o755)
    }

    private static func link(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, buffer.count - 1)
        return count > 0
            ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }

    @Test func thePlanCarriesTheHooks() throws {
        var plan = ContainerPlan(
            name: "x", newNamespaces: NamespaceSet([.mount]), rootfs: RootfsPlan(path: "/"),
            arguments: ["/bin/true"])
        plan.ociHooks.createContainer = [OCIHookCommand(path: "/a", args: ["a", "1"], timeout: 3)]
        plan.ociHooks.startContainer = [OCIHookCommand(path: "/b", env: ["K=V"])]
        plan.ociHooks.createState = "{\"status\":\"creating\"}"
        plan.ociHooks.startState = "{\"status\":\"created\"}"
        let decoded = try ContainerPlan(decoding: plan.encoded())
        #expect(decoded.ociHooks == plan.ociHooks)
    }

    @Test func createContainerAndStartContainerRunInTheContainer() throws {
        let scratch = Scratch("inhooks")
        let shared = scratch.directory + "/shared"
        try Self.configure(
            scratch,
            hooks: "\"createContainer\": [\(Self.hook("createContainer", shared + "/create.sh"))],"
                + " \"startContainer\": [\(Self.hook("startContainer", "/shared/start.sh"))]")
        // createContainer's path and its log are the host's (before pivot_root); the
        // startContainer script exists only at /shared inside the container.
        try Self.writeScript(shared + "/create.sh", log: shared + "/log")
        try Self.writeScript(shared + "/start.sh", log: "/shared/log")
        let created = try scratch.run(["create", "--bundle", scratch.bundle, "ih1"])
        #expect(created.status == 0, "\(created.stderr)")
        let pid = try OCIStateDirectory.open(root: scratch.root, id: "ih1", shared: true).load().pid
        let mnt = Self.link("/proc/\(pid)/ns/mnt")
        let uts = Self.link("/proc/\(pid)/ns/uts")
        let createLine = "createContainer \(shared)/create.sh crun creating \(mnt) \(uts)\n"
        let afterCreate = try FileContents.readText(shared + "/log")
        #expect(afterCreate == createLine)
        #expect(try scratch.run(["start", "ih1"]).status == 0)
        let startLine = "startContainer /shared/start.sh crun created \(mnt) \(uts)\n"
        let afterStart = try FileContents.readText(shared + "/log")
        #expect(afterStart == createLine + startLine)
        #expect(try scratch.status("ih1") == "running")
        #expect(try scratch.run(["delete", "--force", "ih1"]).status == 0)
    }

    @Test func aFailingHookFailsItsVerbAndLeavesNothing() throws {
        let scratch = Scratch("inhookfail")
        let shared = scratch.directory + "/shared"
        try Self.configure(
            scratch, hooks: "\"createContainer\": [\(Self.hook("fail", "/bin/false"))]")
        let failed = try scratch.run(["create", "--bundle", scratch.bundle, "if1"])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("hooks.createContainer[0] /bin/false"), "\(failed.stderr)")
        #expect(OCIStateDirectory.ids(in: scratch.root).isEmpty)

        try Self.configure(
            scratch,
            hooks: "\"startContainer\": [\(Self.hook("fail", "/shared/start.sh"))],"
                + " \"poststart\": [\(Self.hook("poststart", shared + "/create.sh"))]")
        try Self.writeScript(shared + "/start.sh", log: "/shared/log")
        try Self.writeScript(shared + "/create.sh", log: shared + "/log")
        #expect(try scratch.run(["create", "--bundle", scratch.bundle, "if2"]).status == 0)
        let started = try scratch.run(["start", "if2"])
        #expect(started.status == 1)
        #expect(
            started.stderr.contains("hooks.startContainer[0] /shared/start.sh"), "\(started.stderr)"
        )
        #expect(try scratch.waitFor("stopped", "if2"), "the container ends")
        let log = try FileContents.readText(shared + "/log")
        #expect(log.hasPrefix("fail "), "the hook ran; poststart did not: \(log)")
        #expect(!log.contains("poststart"))
        #expect(try scratch.run(["delete", "if2"]).status == 0)
        #expect(OCIStateDirectory.ids(in: scratch.root).isEmpty)

        // A relative path is refused before anything is made.
        try Self.configure(scratch, hooks: "\"startContainer\": [{\"path\": \"bin/true\"}]")
        let relative = try scratch.run(["create", "--bundle", scratch.bundle, "if3"])
        #expect(relative.status == 1)
        #expect(relative.stderr.contains("hooks.startContainer[0].path"), "\(relative.stderr)")
        #expect(OCIStateDirectory.ids(in: scratch.root).isEmpty)
    }
}

/// `exec --tty --console-socket`: the pty comes from the container's devpts, as runc's does.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct OCIExecTerminalTests {
    typealias Scratch = OCILifecycleTests.Scratch

    /// A listening console socket at `path`.
    private static func listen(at path: String) -> FileDescriptor {
        let listener = FileDescriptor(
            owning: socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { target in
            for (index, byte) in path.utf8.enumerated() { target[index] = byte }
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        _ = Glibc.listen(listener.rawValue, 4)
        return listener
    }

    /// Reads the controller until `marker` shows or 3 s pass without output.
    private static func read(_ controller: borrowing FileDescriptor, until marker: String) -> String
    {
        var output = ""
        var buffer = [UInt8](repeating: 0, count: 512)
        var entry = pollfd(fd: controller.rawValue, events: Int16(POLLIN), revents: 0)
        while !output.contains(marker), poll(&entry, 1, 3000) == 1 {
            let count = Glibc.read(controller.rawValue, &buffer, buffer.count)
            if count <= 0 { break }
            output += String(decoding: buffer[0..<count], as: UTF8.self)
        }
        return output
    }

    @Test func theTerminalIsTheContainersAndControlsTheProcess() throws {
        let scratch = Scratch("exectty")
        try scratch.writeConfig("exec sleep 100")
        let socketPath = scratch.directory + "/console.sock"
        let listener = Self.listen(at: socketPath)
        #expect(try scratch.run(["create", "--bundle", scratch.bundle, "et1"]).status == 0)
        #expect(try scratch.run(["start", "et1"]).status == 0)
        let refused = try scratch.run(["exec", "--tty", "et1", "/bin/true"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("--console-socket is required"))

        let script =
            "tty; [ -t 0 ] && echo stdin-is-a-tty; echo via-dev-tty > /dev/tty;"
            + " stty size; read -r line; echo got $line; echo done"
        let process = scratch.directory + "/process.json"
        try FileContents.write(
            "{\"args\": [\"/bin/sh\", \"-c\", \(JSONText.quote(script))], \"cwd\": \"/\","
                + " \"terminal\": true, \"consoleSize\": {\"height\": 33, \"width\": 99}}",
            to: process, flags: O_WRONLY | O_CREAT | O_TRUNC)
        let pidFile = scratch.directory + "/exec.pid"
        let executed = try scratch.run([
            "exec", "--detach", "--console-socket", socketPath, "--pid-file", pidFile,
            "--process", process, "et1",
        ])
        #expect(executed.status == 0, "\(executed.stderr)")
        let connection = FileDescriptor(owning: accept(listener.rawValue, nil, nil))
        let message = try connection.receive(capacity: 256, maxDescriptors: 1)
        let name = String(decoding: message.bytes, as: UTF8.self)
        #expect(name.hasPrefix("/dev/pts/"))
        guard let controller = message.descriptors.take(0) else {
            Issue.record("no terminal received")
            return
        }
        var output = Self.read(controller, until: "99")
        #expect(output.contains("\(name)\r\n"), "tty names the container's pty: \(output)")
        #expect(output.contains("stdin-is-a-tty"))
        #expect(output.contains("via-dev-tty"), "it is the controlling terminal: \(output)")
        #expect(output.contains("33 99"), "consoleSize: \(output)")
        let line = Array("typed\n".utf8)
        #expect(write(controller.rawValue, line, line.count) == line.count)
        output = Self.read(controller, until: "done")
        #expect(output.contains("got typed"), "\(output)")
        #expect(try scratch.run(["delete", "--force", "et1"]).status == 0)
    }
}
