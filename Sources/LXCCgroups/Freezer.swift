import LXCSystem

extension ContainerCgroup {
    /// Freezes every process of the container and waits until the kernel reports it frozen.
    ///
    /// On a v1 freezer hierarchy it writes `FROZEN` to `freezer.state` and waits for the
    /// state to read `FROZEN` (it passes through `FREEZING`); on cgroup2 it writes `1` to
    /// `cgroup.freeze` and waits for `frozen 1` in `cgroup.events`. Throws `timedOut` after
    /// `timeoutMilliseconds`.
    public func freeze(timeoutMilliseconds: Int = 5000) throws(CgroupError) {
        try setFrozen(true, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Thaws the container and waits until the kernel reports it thawed.
    public func thaw(timeoutMilliseconds: Int = 5000) throws(CgroupError) {
        try setFrozen(false, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Whether the kernel reports the container frozen right now.
    public func isFrozen() throws(CgroupError) -> Bool {
        let (version, directory) = try freezerDirectory()
        if version == .v1 {
            return try CgroupFiles.read(directory + "/freezer.state") == "FROZEN"
        }
        return try events(directory)["frozen"] == "1"
    }

    private func setFrozen(_ frozen: Bool, timeoutMilliseconds: Int) throws(CgroupError) {
        let (version, directory) = try freezerDirectory()
        let file = version == .v1 ? "/freezer.state" : "/cgroup.freeze"
        let value = version == .v1 ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0")
        var waited = 0
        while true {
            // v1 may fall back to THAWED if a task could not be frozen; writing again is
            // how the freezer is told to retry.
            if waited == 0 || version == .v1 {
                try CgroupFiles.write(value, to: directory + file)
            }
            if try isFrozen() == frozen { return }
            if waited >= timeoutMilliseconds {
                throw .timedOut("\(frozen ? "freeze" : "thaw") cgroup \(path)")
            }
            CgroupFiles.pause(milliseconds: 5)
            waited += 5
        }
    }

    private func freezerDirectory() throws(CgroupError) -> (CgroupVersion, String) {
        switch layout.placement(of: "freezer") {
        case .v1:
            if let directory = limitDirectory(of: "freezer") { return (.v1, directory) }
        case .v2:
            if let directory = limitDirectory(of: "freezer") { return (.v2, directory) }
        case .absent:
            break
        }
        throw .controllerUnavailable("freezer", version: .v1, item: "freeze")
    }

    /// `cgroup.events` as key and value (`populated 1`, `frozen 0`).
    func events(_ directory: String) throws(CgroupError) -> [String: String] {
        var result: [String: String] = [:]
        for line in try CgroupFiles.read(directory + "/cgroup.events").split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }
}
