import Glibc
import LXCSystem

/// The monitor's own cgroup, LXC's `lxc.cgroup.dir.monitor`: the process that starts and
/// serves a container moves into it before the container starts, and moves out of it again
/// before removing it when the container has stopped or failed to start.
///
/// It has a directory in every hierarchy a container cgroup has (the v1 hierarchies with a
/// controller and the unified one). Leaving moves the monitor, and any process it started
/// that is still there, to `<lxc.cgroup.dir.monitor.pivot>/lxc.pivot` when a pivot is given,
/// as LXC does, or else back to the cgroup the monitor came from; then the monitor's
/// directories are removed. A pivot cgroup is left in place: the monitor sits in it until it
/// exits.
public final class MonitorCgroup {
    /// The layout as it was before the monitor entered: containers started by this monitor
    /// take their base cgroups from it, not from the monitor cgroup.
    public let layout: CgroupLayout
    /// The monitor's directories, one per hierarchy.
    let cgroup: ContainerCgroup
    /// Where leaving moves the processes (`<pivot>/lxc.pivot`); nil moves them back home.
    let pivot: CgroupPath?
    /// The cgroup the monitor came from, in each member's hierarchy.
    let homes: [String]

    init(layout: CgroupLayout, cgroup: ContainerCgroup, pivot: CgroupPath?, homes: [String]) {
        self.layout = layout
        self.cgroup = cgroup
        self.pivot = pivot
        self.homes = homes
    }

    /// Makes the monitor cgroup `path` in every hierarchy of `layout` and moves the calling
    /// process into it. `layout` must be detected by the calling process before it moves
    /// (its own cgroups are where leaving returns to).
    ///
    /// An empty directory of that name left by a monitor that was killed is removed first; one
    /// that holds processes is refused with `alreadyExists`. On failure the process is back
    /// where it was and every directory made is removed again.
    public static func enter(_ path: CgroupPath, pivot: CgroupPath?, layout: CgroupLayout)
        throws(CgroupError) -> MonitorCgroup
    {
        ContainerCgroup.removeStale(path, in: layout)
        let cgroup = try ContainerCgroup.create(path, in: layout)
        let homes = cgroup.members.map { member in
            member.hierarchy.directory(of: member.hierarchy.ownCgroup)
                ?? member.hierarchy.rootDirectory
        }
        let monitor = MonitorCgroup(layout: layout, cgroup: cgroup, pivot: pivot, homes: homes)
        do {
            try cgroup.place(pid: getpid())
        } catch {
            try? monitor.leave()
            throw error
        }
        log.info("monitor \(getpid()) entered cgroup \(cgroup.path)")
        return monitor
    }

    /// The monitor's directories, one per hierarchy.
    public var directories: [String] { cgroup.limitDirectories }

    /// Moves every process out of the monitor cgroup (the caller included) to the pivot or to
    /// the cgroup the monitor came from, then removes the monitor's directories. Every
    /// hierarchy is tried; the first failure is thrown.
    ///
    /// A keeper whose monitor was killed calls this too: the dying monitor may still be listed
    /// for a moment, which `remove` waits out.
    public func leave() throws(CgroupError) {
        var firstError: CgroupError?
        var targets = homes
        if let pivot {
            do {
                let parked = try ContainerCgroup.create(pivot, in: layout)
                targets = parked.payloadDirectories
            } catch {
                firstError = error
            }
        }
        for (index, member) in cgroup.members.enumerated() {
            let target = existingAncestor(of: targets[index], within: member.hierarchy)
            do {
                try moveEverything(below: member.limitDirectory, to: target)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        do {
            try cgroup.remove()
        } catch {
            if firstError == nil { firstError = error }
        }
        if let firstError { throw firstError }
        log.info("monitor \(getpid()) left cgroup \(cgroup.path)")
    }

    /// The processes of `directory` and the cgroups below it go to `target`. A process that
    /// exits meanwhile is no failure.
    private func moveEverything(below directory: String, to target: String) throws(CgroupError) {
        for child in CgroupFiles.subdirectories(of: directory) {
            try moveEverything(below: directory + "/" + child, to: target)
        }
        for pid in CgroupFiles.processes(in: directory) {
            do {
                try CgroupFiles.write(String(pid), to: target + "/cgroup.procs")
            } catch {
                if case .write(_, _, let errno) = error, errno == .ESRCH { continue }
                throw error
            }
        }
    }

    /// `directory`, or its nearest parent that still exists: the cgroup the monitor came from
    /// may have been removed while it ran (another monitor's, for one started inside it).
    private func existingAncestor(of directory: String, within hierarchy: CgroupHierarchy)
        -> String
    {
        let root = hierarchy.rootDirectory
        var candidate = directory
        while candidate.hasPrefix(root + "/") && !CgroupFiles.isDirectory(candidate),
            let slash = candidate.lastIndex(of: "/")
        {
            candidate = String(candidate[..<slash])
        }
        if !candidate.hasPrefix(root) { candidate = root }
        if candidate != directory {
            log.warn("cgroup \(directory) is gone; the monitor moves to \(candidate)")
        }
        return candidate
    }
}
