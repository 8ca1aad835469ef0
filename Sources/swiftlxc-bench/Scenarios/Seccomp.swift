import Glibc
import LXCSystem

/// The podman default seccomp profile: SwiftLXC's compile time alone, then what the profile
/// adds to `run` of /bin/true in SwiftLXC and crun (crun has no compile-only mode, so the
/// added cost of a run is the comparable number).
struct SeccompScenario: Scenario {
    let id = "seccomp"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        let devNull = context.devNull.rawValue
        let bundle = "\(context.peersDirectory)/seccomp"
        var compile = ScenarioResult(
            id: "\(id).compile", title: "seccomp: compile the podman default profile to BPF")
        var runs = ScenarioResult(
            id: "\(id).run", title: "seccomp: run /bin/true with and without the profile")
        var added = ScenarioResult(
            id: "\(id).added", title: "seccomp: time the profile adds to a run of /bin/true")
        let profile = "\(bundle)/profile.json"
        guard access("\(bundle)/config.json", R_OK) == 0, access(profile, R_OK) == 0 else {
            compile.skipped = "no \(bundle): run Scripts/peers.sh first"
            return [compile]
        }

        let compileCommand = ExternalCommand(
            path: context.swiftlxcPath,
            arguments: ["swiftlxc", "seccomp", "compile", profile, "--oci", "--bpf", "/dev/null"])
        compile.contenders = Harness.measure(
            [
                .command(
                    "swiftlxc seccomp compile", compileCommand, isSwiftLXC: true, devNull: devNull)
            ],
            settings: context.settings, label: compile.id)
        compile.notes = [
            "wall time of the command, process start included; no peer has a compile-only mode",
            "profile: \(profile), copied by Scripts/peers.sh from containers-common",
        ]

        var contenders: [Contender] = []
        for runtime in ["swiftlxc", "crun"] {
            let path = runtime == "swiftlxc" ? context.swiftlxcPath : ExternalCommand.find(runtime)
            guard let path else { continue }
            for (suffix, directory) in [("", context.bundlePath), (" +seccomp", bundle)] {
                let containerID = "swiftlxc-bench-seccomp-\(runtime)"
                let command = ExternalCommand(
                    path: path, arguments: [runtime, "run", "--bundle", directory, containerID])
                let delete =
                    runtime == "crun"
                    ? ExternalCommand(
                        path: path, arguments: [runtime, "delete", "-f", containerID])
                    : nil
                contenders.append(
                    .command(
                        runtime + suffix, command, isSwiftLXC: runtime == "swiftlxc",
                        devNull: devNull, cleanup: delete))
            }
        }
        let measured = Harness.measure(contenders, settings: context.settings, label: runs.id)
        // Only the plain swiftlxc run is the reference of the run group.
        runs.contenders = measured.map { result in
            var result = result
            result.isSwiftLXC = result.name == "swiftlxc"
            return result
        }
        runs.notes = [
            "+seccomp: the same bundle with linux.seccomp set to the profile, as the runtime's "
                + "own parser reads it (containers-common format: names, includes, excludes)"
        ]

        for index in stride(from: 0, to: measured.count - 1, by: 2) {
            let plain = measured[index]
            let filtered = measured[index + 1]
            added.contenders.append(
                filtered.minus(
                    plain, name: plain.name,
                    detail: "paired runs: \(filtered.name) minus \(plain.name)"))
        }
        added.notes = [
            "median of the run-by-run differences (runs alternated, so run i of each saw the "
                + "same machine); it includes parsing the profile, compiling it and loading it"
        ]
        return [compile, runs, added]
    }
}
