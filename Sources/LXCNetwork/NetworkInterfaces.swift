import Glibc
import LXCSystem

/// Queries and changes on a running container's network namespace: LXC's `get_interfaces`,
/// `get_ips`, `attach_interface` and `detach_interface`.
public enum NetworkInterfaces {
    /// The names of every device in `netns`, `lo` included, in index order.
    public static func interfaces(in netns: borrowing FileDescriptor) throws(NetworkError)
        -> [String]
    {
        do {
            return try RouteSocket.open(in: netns).links().map(\.name)
        } catch {
            throw NetworkError("list interfaces", cause: error)
        }
    }

    /// The addresses in `netns` as text, LXC's `get_ips`: only `interface`'s when given, else
    /// every device's but `lo`; `family` `inet` or `inet6` (nil: both). An IPv6 address is
    /// listed when its scope id equals `scope`: the device's index for link-local addresses,
    /// 0 for the others (so the default 0 lists the global ones).
    public static func addresses(
        in netns: borrowing FileDescriptor, interface: String? = nil, family: String? = nil,
        scope: Int32 = 0
    ) throws(NetworkError) -> [String] {
        let socket: RouteSocket
        let links: [Link]
        let addresses: [InterfaceAddress]
        do {
            socket = try RouteSocket.open(in: netns)
            links = try socket.links()
            addresses = try socket.addresses()
        } catch {
            throw NetworkError("list addresses", cause: error)
        }
        var names: [Int32: String] = [:]
        for link in links { names[link.index] = link.name }

        var result: [String] = []
        for entry in addresses {
            guard let name = names[entry.index] else { continue }
            if let interface, interface != name { continue }
            if interface == nil, name == "lo" { continue }
            if entry.address.isIPv4 {
                if let family, family != "inet" { continue }
            } else {
                if let family, family != "inet6" { continue }
                let scopeID = entry.address.isIPv6LinkLocal ? entry.index : 0
                if scopeID != scope { continue }
            }
            result.append(entry.address.description)
        }
        return result
    }

    /// Moves the host device `device` into `netns`, renamed to `newName` when given, in one
    /// `RTM_NEWLINK` (LXC's `attach_interface`).
    public static func attach(
        _ device: String, as newName: String? = nil, into netns: borrowing FileDescriptor
    ) throws(NetworkError) {
        if let newName { try DevicePlan.checkName(newName, key: "destination name") }
        do throws(NetlinkError) {
            let host = try RouteSocket()
            guard let link = try host.link(named: device) else {
                throw NetlinkError.kernel(
                    operation: "RTM_GETLINK \(device)", errno: Errno(rawValue: ENODEV),
                    message: nil)
            }
            try host.perform(
                RouteMessage.setLink(
                    index: link.index, label: device,
                    .init(name: newName, namespaceFD: netns.rawValue)))
        } catch {
            throw NetworkError("attach \(device) to the container", cause: error)
        }
    }

    /// Takes `device` out of `netns`: sets it down and moves it to the caller's namespace,
    /// renamed to `hostName` when given (LXC's `detach_interface`).
    public static func detach(
        _ device: String, as hostName: String? = nil, from netns: borrowing FileDescriptor
    ) throws(NetworkError) {
        if let hostName { try DevicePlan.checkName(hostName, key: "destination name") }
        let here: FileDescriptor
        do {
            here = try FileDescriptor.open("/proc/thread-self/ns/net", O_RDONLY)
        } catch {
            throw NetworkError("detach \(device) from the container", cause: .system(error))
        }
        do throws(NetlinkError) {
            let container = try RouteSocket.open(in: netns)
            guard let link = try container.link(named: device) else {
                throw NetlinkError.kernel(
                    operation: "RTM_GETLINK \(device)", errno: Errno(rawValue: ENODEV),
                    message: nil)
            }
            try container.perform(
                RouteMessage.setLink(index: link.index, label: device, .init(up: false)))
            try container.perform(
                RouteMessage.setLink(
                    index: link.index, label: device,
                    .init(name: hostName, namespaceFD: here.rawValue)))
        } catch {
            throw NetworkError("detach \(device) from the container", cause: error)
        }
    }
}
