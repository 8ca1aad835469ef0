/// What another process needs to act on a container cgroup that this one made: OCI's
/// `create` leaves the cgroup behind, and `kill --all`, `pause`, `ps` and `delete` find it
/// again in later processes from the record in the container's state file.
public struct CgroupRecord: Equatable, Sendable {
    /// One hierarchy's directories, as `ContainerCgroup` keeps them.
    public struct Member: Equatable, Sendable {
        /// The hierarchy's mount point, which finds it again in a new layout.
        public var mountPoint: String
        public var limitDirectory: String
        public var payloadDirectory: String
        /// Directories the creator made, outermost first: only these are removed.
        public var created: [String]

        public init(
            mountPoint: String, limitDirectory: String, payloadDirectory: String, created: [String]
        ) {
            self.mountPoint = mountPoint
            self.limitDirectory = limitDirectory
            self.payloadDirectory = payloadDirectory
            self.created = created
        }
    }

    /// The path below the base (`lxc.payload.web`, or OCI's `cgroupsPath`).
    public var path: String
    public var inner: String?
    public var members: [Member]

    public init(path: String, inner: String?, members: [Member]) {
        self.path = path
        self.inner = inner
        self.members = members
    }
}

extension ContainerCgroup {
    /// The record that `reopen` takes.
    public var record: CgroupRecord {
        CgroupRecord(
            path: path, inner: inner,
            members: members.map {
                CgroupRecord.Member(
                    mountPoint: $0.hierarchy.mountPoint, limitDirectory: $0.limitDirectory,
                    payloadDirectory: $0.payloadDirectory, created: $0.created)
            })
    }

    /// The cgroup `record` describes, in `layout` (the calling process's). A member whose
    /// hierarchy is no longer mounted is left out.
    public static func reopen(_ record: CgroupRecord, in layout: CgroupLayout) -> ContainerCgroup {
        var members: [Member] = []
        for member in record.members {
            guard
                let index = layout.hierarchies.firstIndex(where: {
                    $0.mountPoint == member.mountPoint
                })
            else { continue }
            let hierarchy = layout.hierarchies[index]
            let parent = member.limitDirectory.split(separator: "/").dropLast()
                .joined(separator: "/")
            members.append(
                Member(
                    hierarchyIndex: index, hierarchy: hierarchy,
                    limitDirectory: member.limitDirectory,
                    payloadDirectory: member.payloadDirectory, created: member.created,
                    parents: ["/" + parent]))
        }
        return ContainerCgroup(
            layout: layout, path: record.path, inner: record.inner, members: members)
    }
}
