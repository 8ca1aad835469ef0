import Glibc
import LXCSystem

/// Runs `lxc.net.N.script.up` and `script.down` as LXC does: through `/bin/sh -c "exec
/// <script> <container> net <up|down> <type> [<link>] [<host veth>]"`, so a script value may
/// carry its own arguments and an empty link drops out of the words. With hook version 1 the
/// same details are also in `LXC_HOOK_TYPE`, `LXC_HOOK_SECTION`, `LXC_NET_TYPE`,
/// `LXC_NET_PARENT` and, for veth, `LXC_NET_PEER`.
enum NetworkScripts {
    static let log = Logger("network")

    static func run(
        _ script: String, hook: String, type: String, link: String?, peer: String?,
        context: NetworkContext, key: String
    ) throws(NetworkError) {
        var words = [script, context.containerName, "net", hook, type]
        var arguments = [type]
        if type != "empty" { arguments.append(link ?? "") }
        if type == "veth" { arguments.append(peer ?? "") }
        words += arguments.dropFirst().filter { !$0.isEmpty }
        let command = "exec " + words.joined(separator: " ")

        var environment = context.environment
        func set(_ name: String, _ value: String) {
            environment.removeAll { $0.hasPrefix(name + "=") }
            environment.append("\(name)=\(value)")
        }
        if !environment.contains(where: { $0.hasPrefix("LXC_NAME=") }) {
            set("LXC_NAME", context.containerName)
        }
        if !environment.contains(where: { $0.hasPrefix("PATH=") }) {
            set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        }
        if context.hookVersion == 1 {
            set("LXC_HOOK_TYPE", hook)
            set("LXC_HOOK_SECTION", "net")
            set("LXC_NET_TYPE", type)
            if ["veth", "macvlan", "phys"].contains(type) { set("LXC_NET_PARENT", link ?? "") }
            if type == "veth" { set("LXC_NET_PEER", peer ?? "") }
        }

        log.info("running \(key) for \(context.containerName): \(command)")
        let status: TerminationStatus
        let output: String
        do {
            let pipe = try Pipe()
            let child = try Spawn.start(
                SpawnRequest(
                    path: "/bin/sh", arguments: ["sh", "-c", command], environment: environment,
                    fileMap: [-1, pipe.writeEnd.rawValue, pipe.writeEnd.rawValue]))
            try pipe.writeEnd.close()
            output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
            status = try child.wait()
        } catch {
            throw NetworkError(key: key, value: script, "run script", cause: .system(error))
        }
        if !output.isEmpty { log.debug("\(key) said: \(output)") }
        guard status == .exited(0) else {
            throw NetworkError(key: key, value: script, "script \(status)")
        }
    }
}
