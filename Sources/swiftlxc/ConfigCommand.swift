import LXCConfig

/// `swiftlxc config`: check, read and list LXC config keys, and check OCI `config.json`.
enum ConfigCommand {
    static let usage = """
        usage: swiftlxc config check FILE
               swiftlxc config check --oci BUNDLE/config.json
               swiftlxc config get FILE KEY
               swiftlxc config keys [PREFIX]
               swiftlxc config is-supported KEY
        """

    static func run(_ arguments: [String]) -> Int32 {
        switch (arguments.first, arguments.count) {
        case ("check", 3) where arguments[1] == "--oci":
            return checkOCI(arguments[2])
        case ("check", 2):
            return check(arguments[1])
        case ("get", 3):
            return get(file: arguments[1], key: arguments[2])
        case ("keys", 1), ("keys", 2):
            return keys(arguments.count == 2 ? arguments[1] : nil)
        case ("is-supported", 2):
            return ConfigKeys.isSupported(arguments[1]) ? 0 : 1
        case ("docs", 1):
            print(ConfigDocs.markdown, terminator: "")
            return 0
        default:
            printError(usage)
            return 2
        }
    }

    static func check(_ file: String) -> Int32 {
        let (config, errors) = LXCConfiguration.check(contentsOf: file)
        for warning in config.warnings { printError("warning: " + warning) }
        for error in errors { printError("\(error)") }
        guard errors.isEmpty else { return 1 }
        do {
            let model = try ContainerConfig(lxc: config)
            for warning in model.warnings where !config.warnings.contains(warning) {
                printError("warning: " + warning)
            }
        } catch {
            printError("\(error)")
            return 1
        }
        return 0
    }

    static func checkOCI(_ file: String) -> Int32 {
        do {
            let model = try ContainerConfig(ociFile: file)
            for warning in model.warnings { printError("warning: \(file): " + warning) }
            return 0
        } catch {
            printError("\(error)")
            return 1
        }
    }

    static func get(file: String, key: String) -> Int32 {
        do {
            let config = try LXCConfiguration(contentsOf: file)
            let value = try config.get(key)
            print(value, terminator: value.hasSuffix("\n") || value.isEmpty ? "" : "\n")
            return 0
        } catch {
            printError("\(error)")
            return 1
        }
    }

    static func keys(_ prefix: String?) -> Int32 {
        do {
            for key in try LXCConfiguration().keys(prefix) { print(key) }
            return 0
        } catch {
            printError("\(error)")
            return 1
        }
    }
}
