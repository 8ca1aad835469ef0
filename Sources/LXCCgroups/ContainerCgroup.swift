import Glibc
import LXCSystem

/// A container's cgroup in every hierarchy of a `CgroupLayout`: made by `create`, filled by
/// `place`, limited by `apply`, ended by `kill` and `remove`.
///
/// On v1 it has a directory in each hierarchy that carries a controller (named hierarchies
/// such as `name=systemd` are left alone); on cgroup2 one directory in the unified hierarchy.
/// With an inner cgroup (`lxc.cgroup.dir.container.inner`) the limits sit on the outer
/// directory and the processes in the inner one, which is made when the first process is
/// placed, so that v1 device rules can still change the outer cgroup's default.
public final class ContainerCgroup {
    /// One hierarchy's directories.
    struct Member {
        var hierarchyIndex: Int
        var hierarchy: CgroupHierarchy
        /// Carries the limits.
        var limitDirectory: String
        /// Holds the processes: the limit directory, or the inner cgroup below it.
        var payloadDirectory: String
        /// Directories this object made, outermost first; only these are removed.
        var created: [String]
        /// The base and every directory below it down to the limit directory's parent: the
        /// cgroups whose `cgroup.subtree_control` must enable a controller for the limit.
        var parents: [String]
    }

    /// The host layout the cgroup was made in.
    public let layout: CgroupLayout
    /// The path chosen below the base, after `-1`, `-2`… were tried (`lxc.payload.web-1`).
    public let path: String
    /// The inner cgroup's path below `path`, if any.
    public let inner: String?
    var members: [Member]
    /// cgroup2 controllers this object has enabled for the container (or found enabled).
    var enabledControllers: Set<String> = []
    /// The attached cgroup2 device program; detached when a new one replaces it.
    var deviceProgram: FileDescriptor?
    /// The rules the attached program was built from, checked last to first.
    public internal(set) var deviceRules: [DeviceRule]?

    init(layout: CgroupLayout, path: String, inner: String?, members: [Member]) {
        self.layout = layout
        self.path = path
        self.inner = inner
        self.members = members
    }

    // MARK: - Creation

    /// Makes the container's cgroup directory in every hierarchy of `layout`.
    ///
    /// Missing parents are made too (and removed again by `remove`). When `path` may be
    /// made unique, the first of `name`, `name-1`, `name-2`… that exists in no hierarchy is
    /// taken. cgroup2 controllers are enabled later, by the first limit that needs them.
    /// New v1 cpuset cgroups get their parent's `cpuset.cpus` and `cpuset.mems`, which the
    /// kernel leaves empty. On any failure every directory made so far is removed again.
    public static func create(_ path: CgroupPath, in layout: CgroupLayout) throws(CgroupError)
        -> ContainerCgroup
    {
        var bases: [(index: Int, directory: String)] = []
        for (index, hierarchy) in layout.hierarchies.enumerated()
        where hierarchy.version == .v2 || !hierarchy.controllers.isEmpty {
            let basePath: String
            switch path.base {
            case .caller: basePath = hierarchy.ownCgroup
            case .initProcess: basePath = hierarchy.initCgroup
            case .root: basePath = hierarchy.mountRoot
            }
            guard let directory = hierarchy.directory(of: basePath) else {
                throw .layout(
                    "cgroup \(basePath) is not visible under the mount \(hierarchy.mountPoint)")
            }
            bases.append((index, directory))
        }

        for attempt in 0..<1000 {
            let candidate = attempt == 0 ? path.limit : "\(path.limit)-\(attempt)"
            if let taken = bases.first(where: {
                CgroupFiles.exists($0.directory + "/" + candidate)
            }) {
                if path.uniquify { continue }
                if !path.allowExisting {
                    throw .alreadyExists(path: taken.directory + "/" + candidate)
                }
            }
            var builder = Builder(layout: layout, path: path)
            do {
                for base in bases {
                    try builder.make(candidate, below: base.directory, index: base.index)
                }
            } catch let error {
                builder.rollBack()
                // Another runtime took the name between the check and the mkdir.
                if case .alreadyExists = error, path.uniquify { continue }
                throw error
            }
            log.info("created cgroup \(candidate) in \(builder.members.count) hierarchies")
            return ContainerCgroup(
                layout: layout, path: candidate, inner: path.inner, members: builder.members)
        }
        throw .alreadyExists(path: path.limit + "-999")
    }

    /// Makes the directories of one container cgroup, remembering what it made.
    struct Builder {
        let layout: CgroupLayout
        let path: CgroupPath
        var members: [Member] = []

        init(layout: CgroupLayout, path: CgroupPath) {
            self.layout = layout
            self.path = path
        }

        mutating func make(_ relative: String, below base: String, index: Int)
            throws(CgroupError)
        {
            let hierarchy = layout.hierarchies[index]
            var member = Member(
                hierarchyIndex: index, hierarchy: hierarchy, limitDirectory: "",
                payloadDirectory: "", created: [], parents: [])
            // Recorded before the first mkdir so that a failure half-way is rolled back.
            members.append(member)
            var directory = base
            let components = relative.split(separator: "/")
            for (position, component) in components.enumerated() {
                member.parents.append(directory)
                let parent = directory
                directory += "/" + component
                let made = try Self.makeDirectory(directory)
                if !made.isEmpty {
                    member.created += made
                    members[members.count - 1] = member
                } else if position == components.count - 1 && !path.allowExisting {
                    throw .alreadyExists(path: directory)
                }
                // A v1 cpuset cgroup starts with no cpus and mems, and one made earlier by a
                // tool that never filled it is just as empty: either way it takes its
                // parent's, or no process could join it (ENOSPC), as crun and runc do.
                if hierarchy.controllers.contains("cpuset") && hierarchy.version == .v1 {
                    try CgroupTree.inheritCpuset(from: parent, to: directory)
                }
            }
            member.limitDirectory = directory
            member.payloadDirectory = path.inner.map { directory + "/" + $0 } ?? directory
            members[members.count - 1] = member
        }

        /// `mkdir` of `directory`; returns what it made, outermost first (nothing when it
        /// existed). When another container removed the parent between our finding it and
        /// this `mkdir` (ENOENT), the parent is made again, and recorded, so that it goes when
        /// it is empty like any parent this object made.
        static func makeDirectory(_ directory: String, depth: Int = 0) throws(CgroupError)
            -> [String]
        {
            do {
                return try CgroupFiles.makeDirectory(directory) ? [directory] : []
            } catch {
                guard case .system(let cause) = error, cause.errno == .ENOENT, depth < 8,
                    let slash = directory.lastIndex(of: "/"), slash != directory.startIndex
                else { throw error }
                let parent = try makeDirectory(String(directory[..<slash]), depth: depth + 1)
                return try parent + makeDirectory(directory, depth: depth + 1)
            }
        }

        func rollBack() {
            for member in members {
                for directory in member.created.reversed() {
                    try? ContainerCgroup.removeMade(directory, of: member)
                }
            }
        }
    }

    /// Removes the empty cgroups of `path` (its inner cgroup first) that a killed monitor
    /// left in every hierarchy. Only the monitor of this container calls it, before making
    /// its own, and `rmdir` fails on a cgroup that still holds processes or children: nothing
    /// live is touched.
    public static func removeStale(_ path: CgroupPath, in layout: CgroupLayout) {
        for hierarchy in layout.hierarchies {
            let base: String
            switch path.base {
            case .initProcess: base = hierarchy.initCgroup
            case .caller: base = hierarchy.ownCgroup
            case .root: base = "/"
            }
            let prefix = base == "/" ? "" : base
            guard let directory = hierarchy.directory(of: prefix + "/" + path.limit) else {
                continue
            }
            if let inner = path.inner { rmdir(directory + "/" + inner) }
            rmdir(directory)
        }
    }

    // MARK: - Directories

    /// Every directory the cgroup uses for its limits, one per hierarchy.
    public var limitDirectories: [String] { members.map(\.limitDirectory) }

    /// Every directory the processes are placed in, one per hierarchy.
    public var payloadDirectories: [String] { members.map(\.payloadDirectory) }

    /// The cgroups a process attached to the running container must join, one per hierarchy:
    /// the inner cgroup (`lxc.cgroup.dir.container.inner`) when there is one, which is the
    /// root of the container's cgroup namespace and lies below its limits, else the
    /// container's own cgroup. The attached process joins them before it joins the
    /// container's cgroup namespace.
    public var attachDirectories: [String] { payloadDirectories }

    /// The directory in the unified hierarchy that holds the processes, if cgroup2 is mounted.
    public var unifiedPayloadDirectory: String? {
        members.first { $0.hierarchy.version == .v2 }?.payloadDirectory
    }

    /// The limit directory in the hierarchy that carries `controller`.
    func limitDirectory(of controller: String) -> String? {
        switch layout.placement(of: controller) {
        case .v1(let index):
            return members.first { $0.hierarchyIndex == index }?.limitDirectory
        case .v2:
            return members.first { $0.hierarchy.version == .v2 }?.limitDirectory
        case .absent:
            return nil
        }
    }

    /// Makes the inner cgroup (if configured) in every hierarchy; it holds the processes.
    func ensurePayloadDirectories() throws(CgroupError) {
        guard inner != nil else { return }
        for index in members.indices where !CgroupFiles.exists(members[index].payloadDirectory) {
            let directory = members[index].payloadDirectory
            if try CgroupFiles.makeDirectory(directory) {
                members[index].created.append(directory)
            }
            if members[index].hierarchy.version == .v1
                && members[index].hierarchy.controllers.contains("cpuset")
            {
                try CgroupTree.inheritCpuset(from: members[index].limitDirectory, to: directory)
            }
        }
    }

    /// Enables `controllers` on cgroup2 for the container: in the `cgroup.subtree_control` of
    /// the base and of every cgroup between it and the container's, where missing, all in one
    /// write per cgroup. Throws `controllerNotEnabled` with the kernel's reason (a cgroup with
    /// processes of its own cannot delegate domain controllers).
    func enable(_ controllers: Set<String>) throws(CgroupError) {
        let wanted = controllers.subtracting(enabledControllers)
        guard !wanted.isEmpty,
            let member = members.first(where: { $0.hierarchy.version == .v2 })
        else { return }
        for directory in member.parents {
            let file = directory + "/cgroup.subtree_control"
            let active = Set(
                (CgroupFiles.readIfPresent(file) ?? "").split(separator: " ").map(String.init))
            let missing = wanted.subtracting(active).sorted()
            if missing.isEmpty { continue }
            do {
                try CgroupFiles.write(missing.map { "+" + $0 }.joined(separator: " "), to: file)
            } catch {
                // Name the controller the kernel refuses, not just the batch.
                for controller in missing {
                    do {
                        try CgroupFiles.write("+" + controller, to: file)
                    } catch {
                        throw .controllerNotEnabled(controller, cause: error.description)
                    }
                }
            }
        }
        enabledControllers.formUnion(wanted)
    }

    // MARK: - Processes

    /// Moves `pid` (and its threads) into the container's cgroup in every hierarchy by
    /// writing it to each `cgroup.procs`. Call it while the process waits, before it runs
    /// anything of the container's.
    public func place(pid: pid_t) throws(CgroupError) {
        try ensurePayloadDirectories()
        for member in members {
            try CgroupFiles.write(String(pid), to: member.payloadDirectory + "/cgroup.procs")
        }
    }

    /// Opens the unified payload directory for `clone3`'s `CLONE_INTO_CGROUP`. A process
    /// started that way is in the cgroup2 hierarchy only; v1 placement still needs `place`.
    public func openUnifiedDirectory() throws(CgroupError) -> FileDescriptor {
        try ensurePayloadDirectories()
        guard let directory = unifiedPayloadDirectory else {
            throw .unsupported("CLONE_INTO_CGROUP without a cgroup2 mount")
        }
        do {
            return try FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
        } catch {
            throw .system(error)
        }
    }

    /// The pids in the container's cgroups and every cgroup below them, in all hierarchies.
    public func processes() -> [pid_t] {
        var pids: Set<pid_t> = []
        for member in members {
            collect(member.limitDirectory, into: &pids)
        }
        return pids.sorted()
    }

    private func collect(_ directory: String, into pids: inout Set<pid_t>) {
        pids.formUnion(CgroupFiles.processes(in: directory))
        for child in CgroupFiles.subdirectories(of: directory) {
            collect(directory + "/" + child, into: &pids)
        }
    }

    /// Kills every process in the container's cgroups and waits until none is left.
    ///
    /// Writes cgroup2's `cgroup.kill` where the unified directory has it (it also reaches
    /// processes forking at the same moment) and sends SIGKILL to each pid listed in any
    /// hierarchy, repeatedly, until the lists are empty. A frozen v1 freezer cgroup is thawed, since
    /// its tasks cannot die while frozen. Throws `timedOut` after `timeoutMilliseconds`.
    public func kill(timeoutMilliseconds: Int = 5000) throws(CgroupError) {
        let killFile = members.first { $0.hierarchy.version == .v2 }
            .map { $0.limitDirectory + "/cgroup.kill" }
        var waited = 0
        var thawed = false
        while true {
            if let killFile, CgroupFiles.exists(killFile) {
                try CgroupFiles.write("1", to: killFile)
            }
            // Also by pid: a process placed only in v1 hierarchies is beyond cgroup.kill's
            // reach. Between reading a pid and signalling it the process could exit and its
            // pid be reused; cgroup.kill, where present, has no such window.
            for pid in processes() { _ = Glibc.kill(pid, SIGKILL) }
            if !thawed, case .v1 = layout.placement(of: "freezer"),
                let freezer = limitDirectory(of: "freezer"),
                CgroupFiles.readIfPresent(freezer + "/freezer.state") != "THAWED"
            {
                try CgroupFiles.write("THAWED", to: freezer + "/freezer.state")
                thawed = true
            }
            if processes().isEmpty { return }
            if waited >= timeoutMilliseconds {
                throw .timedOut("kill the processes of cgroup \(path)")
            }
            CgroupFiles.pause(milliseconds: 10)
            waited += 10
        }
    }

    /// Removes every directory this object made, deepest first, in every hierarchy, and
    /// any cgroups the container made below them. The processes must be gone (see `kill`).
    /// Directories that existed before `create` stay. Every directory is tried; the first
    /// failure is thrown.
    public func remove() throws(CgroupError) {
        var firstError: CgroupError?
        for member in members.reversed() {
            for directory in member.created.reversed() {
                do {
                    try Self.removeMade(directory, of: member)
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
        }
        deviceProgram = nil
        if let firstError { throw firstError }
        log.info("removed cgroup \(path)")
    }

    /// Removes one directory this object made. The container's own cgroup goes with every
    /// cgroup the container made below it. A parent made on the way to it is removed only
    /// when empty: another container's cgroup may have been made below it since (two
    /// containers with `lxc.cgroup.dir.monitor = lxc.monitor/<name>`), and then it stays.
    static func removeMade(_ directory: String, of member: Member) throws(CgroupError) {
        let limit = member.limitDirectory
        if limit.isEmpty || directory == limit || directory.hasPrefix(limit + "/") {
            try CgroupFiles.removeTree(directory)
            return
        }
        if rmdir(directory) == 0 { return }
        let errno = Errno.current
        if errno == .ENOENT { return }
        if errno == .EBUSY || errno == Errno(rawValue: ENOTEMPTY),
            !CgroupFiles.subdirectories(of: directory).isEmpty
        {
            log.debug("cgroup \(directory) stays: other cgroups are below it")
            return
        }
        throw .system(SyscallError(errno, call: "rmdir", object: directory))
    }

    // MARK: - Items by name

    /// Reads one interface file of the container's cgroup by name, as LXC's
    /// `get_cgroup_item` does: the controller prefix of `file` picks the hierarchy.
    public func get(_ file: String) throws(CgroupError) -> String {
        let directory = try limitDirectory(
            forFile: file, version: nil, item: file, enabling: false)
        return try CgroupFiles.read(directory + "/" + file)
    }

    /// Writes one interface file of the container's cgroup by name (LXC `set_cgroup_item`).
    /// On cgroup2, `devices.allow` and `devices.deny` add the line to the device program.
    public func set(_ file: String, to value: String) throws(CgroupError) {
        if file == "devices.allow" || file == "devices.deny", layout.placement(of: "devices") == .v2
        {
            let rule = try DeviceRule(line: value, allow: file == "devices.allow")
            try attachDeviceProgram((deviceRules ?? [.allowAll]) + [rule])
            return
        }
        let directory = try limitDirectory(forFile: file, version: nil, item: file)
        try CgroupFiles.write(value, to: directory + "/" + file)
    }

    /// Applies raw config items in order: `lxc.cgroup.<file>` to the v1 hierarchy of the
    /// file's controller, `lxc.cgroup2.<file>` to the unified hierarchy.
    /// `lxc.cgroup2.devices.allow`/`.deny` lines become a BPF device program, allowing what
    /// no line denies unless a line denies `a`, as LXC does.
    public func apply(_ items: [CgroupItem]) throws(CgroupError) {
        var deviceRules: [DeviceRule] = []
        for item in items {
            if item.version == .v2 && (item.file == "devices.allow" || item.file == "devices.deny")
            {
                deviceRules.append(
                    try DeviceRule(line: item.value, allow: item.file == "devices.allow"))
                continue
            }
            let directory = try limitDirectory(
                forFile: item.file, version: item.version, item: item.key)
            try CgroupFiles.write(item.value, to: directory + "/" + item.file)
        }
        if !deviceRules.isEmpty {
            try attachDeviceProgram([.allowAll] + deviceRules)
        }
    }

    /// The limit directory for an interface file, chosen by its controller prefix.
    func limitDirectory(
        forFile file: String, version: CgroupVersion?, item: String, enabling: Bool = true
    ) throws(CgroupError) -> String {
        guard let dot = file.firstIndex(of: "."), dot != file.startIndex,
            !file.contains("/")
        else {
            throw .unknownController(file, item: item)
        }
        let controller = String(file[..<dot])
        if controller == "cgroup" {
            // Core files: cgroup2's when asked for or when there is a unified hierarchy.
            if version != .v1, let unified = members.first(where: { $0.hierarchy.version == .v2 }) {
                return unified.limitDirectory
            }
            throw .controllerUnavailable(controller, version: version ?? .v1, item: item)
        }
        let knownV1 = CgroupLayout.v1Controllers.contains(controller)
        let knownV2 = CgroupLayout.v2Controllers.contains(controller)
        switch version {
        case .v1?: if !knownV1 { throw .unknownController(controller, item: item) }
        case .v2?: if !knownV2 { throw .unknownController(controller, item: item) }
        case nil: if !knownV1 && !knownV2 { throw .unknownController(controller, item: item) }
        }

        let placement = layout.placement(of: controller)
        switch (placement, version) {
        case (.v1, .v2?), (.v2, .v1?), (.absent, _):
            let wanted = version ?? (knownV2 && layout.unified != nil ? .v2 : .v1)
            throw .controllerUnavailable(controller, version: wanted, item: item)
        case (.v2, _):
            if enabling && CgroupLayout.v2Controllers.contains(controller) {
                try enable([controller])
            }
        case (.v1, _):
            break
        }
        guard let directory = limitDirectory(of: controller) else {
            throw .controllerUnavailable(controller, version: version ?? .v1, item: item)
        }
        return directory
    }
}

/// Steps on a cgroup directory that creation and the inner cgroup both need.
enum CgroupTree {
    static func inheritCpuset(from parent: String, to child: String) throws(CgroupError) {
        for file in ["cpuset.cpus", "cpuset.mems"] {
            // Only a cpuset the kernel left empty is filled; a plain-file tree has none.
            guard let current = CgroupFiles.readIfPresent(child + "/" + file),
                current.isEmpty
            else { continue }
            let value = try CgroupFiles.read(parent + "/" + file)
            try CgroupFiles.write(value, to: child + "/" + file)
        }
    }
}

/// One raw cgroup config item: `lxc.cgroup.<file> = value` (v1) or
/// `lxc.cgroup2.<file> = value` (v2).
public struct CgroupItem: Equatable, Sendable {
    /// v1 for `lxc.cgroup.`, v2 for `lxc.cgroup2.`.
    public var version: CgroupVersion
    /// The interface file, controller first (`pids.max`, `memory.limit_in_bytes`).
    public var file: String
    /// The text written to it.
    public var value: String

    public init(version: CgroupVersion, file: String, value: String) {
        self.version = version
        self.file = file
        self.value = value
    }

    /// Parses an LXC config key (`lxc.cgroup.pids.max`, `lxc.cgroup2.memory.max`).
    public init(key: String, value: String) throws(CgroupError) {
        if key.hasPrefix("lxc.cgroup2.") {
            version = .v2
            file = String(key.dropFirst("lxc.cgroup2.".count))
        } else if key.hasPrefix("lxc.cgroup.") {
            version = .v1
            file = String(key.dropFirst("lxc.cgroup.".count))
        } else {
            throw .unknownController(key, item: key)
        }
        self.value = value
    }

    /// The LXC config key this item stands for.
    public var key: String {
        (version == .v1 ? "lxc.cgroup." : "lxc.cgroup2.") + file
    }
}
