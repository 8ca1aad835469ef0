import Glibc
import LXCSystem
import Synchronization

/// Creates a container's network devices from the host, configures them inside the
/// container's network namespace, and removes them again.
///
/// Everything happens over rtnetlink from the calling thread: host-side work on a socket in
/// the caller's namespace, container-side work on a socket opened inside the container's
/// namespace (see `RouteSocket.open(in:)`). No process is spawned except `script.up` and
/// `script.down`. The setup keeps its own descriptor of the namespace, so teardown can still
/// return physical devices after the container's processes are gone.
///
/// `setup()` either completes or undoes what it did before it throws; `teardown()` removes
/// what a completed setup created, returns `phys` devices to the host under their original
/// names, and is a no-op after a failed setup.
public final class NetworkSetup: Sendable {
    /// The specs, in `lxc.net.N` order.
    public let specs: [NetworkSpec]
    public let context: NetworkContext
    private let plans: [DevicePlan]
    private let netns: FileDescriptor
    private let state = Mutex(State())

    struct State {
        var undo: [UndoStep] = []
        var devices: [ConfiguredNetwork] = []
        var done = false
    }

    static let log = Logger("network")

    /// Checks every spec and keeps a duplicate of `netns`, the container's network namespace
    /// (`/proc/<init>/ns/net`). Throws the first bad value, naming its key; touches nothing.
    public init(specs: [NetworkSpec], netns: borrowing FileDescriptor, context: NetworkContext)
        throws(NetworkError)
    {
        var plans: [DevicePlan] = []
        for spec in specs {
            plans.append(try DevicePlan(spec))
        }
        self.specs = specs
        self.context = context
        self.plans = plans
        do {
            self.netns = try netns.duplicate()
        } catch {
            throw NetworkError("keep the network namespace", cause: .system(error))
        }
    }

    /// The devices as configured by the last successful `setup()`.
    public var devices: [ConfiguredNetwork] {
        state.withLock { $0.devices }
    }

    /// Creates and configures every device, in order: host side first for all of them, then
    /// inside the container (devices with a fixed name before `eth%d` ones, as LXC does).
    ///
    /// On failure everything already done is undone before the error is thrown, so the host's
    /// devices, routes and neighbour entries are as they were.
    @discardableResult
    public func setup() throws(NetworkError) -> [ConfiguredNetwork] {
        try state.withLock { state throws(NetworkError) -> [ConfiguredNetwork] in
            try setUp(&state)
        }
    }

    private func setUp(_ state: inout State) throws(NetworkError) -> [ConfiguredNetwork] {
        guard !state.done else { throw NetworkError("network already set up") }
        let run = try SetupRun(plans: plans, context: context, netns: netns)
        do {
            try run.perform()
        } catch {
            Self.log.error("network setup failed, undoing it: \(error)")
            for problem in run.undoAll() {
                Self.log.warn("undoing network setup: \(problem)")
            }
            throw error
        }
        state.undo = run.undo
        state.devices = run.devices
        state.done = true
        return run.devices
    }

    /// Runs the down scripts, deletes every device the setup created on the host (a veth's
    /// peer and its routes go with it), removes neighbour proxies, and moves `phys` devices
    /// back to the host under their original names with their original MTU.
    ///
    /// Best effort, as LXC's: every step is tried; the failures are returned (and logged).
    @discardableResult
    public func teardown() -> [NetworkError] {
        state.withLock { state -> [NetworkError] in tearDown(&state) }
    }

    private func tearDown(_ state: inout State) -> [NetworkError] {
        let steps = state.undo
        state.undo = []
        state.devices = []
        state.done = false
        guard !steps.isEmpty else { return [] }
        let run: SetupRun
        do {
            run = try SetupRun(plans: plans, context: context, netns: netns)
        } catch {
            return [error]
        }
        run.undo = steps
        let problems = run.undoAll()
        for problem in problems { Self.log.warn("network teardown: \(problem)") }
        return problems
    }
}

/// One thing to take back, recorded as soon as it was done.
enum UndoStep: Sendable {
    case deleteHostLink(index: Int32, name: String)
    case deleteContainerLink(index: Int32, name: String)
    case returnPhys(containerIndex: Int32, name: String, mtu: UInt32?, wasUp: Bool)
    case deleteNeighbourProxy(address: IPAddress, index: Int32, device: String)
    case deleteHostRoute(IPNetwork, index: Int32, device: String)
    case downScript(planIndex: Int, link: String?, peer: String?)
}
