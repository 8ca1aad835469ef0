import LXCSystem

/// A failure inside the container-side stage: the step, the call and its object, and errno.
public struct StageFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public var step: String
    public var call: String
    public var errno: Int32
    public var object: String?

    public init(step: String, call: String, errno: Int32, object: String? = nil) {
        self.step = step
        self.call = call
        self.errno = errno
        self.object = object
    }

    public init(step: String, _ error: SyscallError) {
        self.init(step: step, call: error.call, errno: error.errno.rawValue, object: error.object)
    }

    /// Whether the workload could not be executed (missing or not executable): status 127.
    public var isExecFailure: Bool { step == "exec" }

    public var description: String {
        let reason = Errno(rawValue: errno).description
        let what = object.map { "\(call) \($0)" } ?? call
        return "\(step): \(what): \(reason)"
    }
}

/// The messages of the sync socket between the host side and the container-side stage.
///
/// host → stage: `plan`, then `go` once the host is ready for the workload to run.
/// stage → host: `ready` when set up, or `failed`; after `go` nothing but `failed` (exec).
/// The stage's end of the socket is close-on-exec, so end of file after `go` means the
/// workload is running.
public enum SyncMessage: Equatable, Sendable {
    case plan(ContainerPlan)
    case ready
    case go
    case failed(StageFailure)
    /// An attached command's own seccomp notify listener, passed alongside: the caller hands
    /// it to the container's monitor, which serves it with the init's.
    case seccompListener
    /// An attached command's terminal controller, passed alongside, with the peer's name
    /// inside the container (`/dev/pts/0`): the caller hands it to `--console-socket`.
    case terminal(String)
    /// The container's stage is set up and waits for `go`; the descriptors `files` names
    /// are passed alongside, in the order of `StageFiles`' bits.
    case stageReady(StageFiles)

    public func encoded() -> [UInt8] {
        var w = WireWriter()
        switch self {
        case .plan(let plan):
            w.write(UInt32(1))
            return w.bytes + plan.encoded()
        case .ready:
            w.write(UInt32(2))
        case .go:
            w.write(UInt32(3))
        case .failed(let failure):
            w.write(UInt32(4))
            w.write(failure.step)
            w.write(failure.call)
            w.write(failure.errno)
            w.write(failure.object)
        case .seccompListener:
            w.write(UInt32(5))
        case .terminal(let path):
            w.write(UInt32(6))
            w.write(path)
        case .stageReady(let files):
            w.write(UInt32(7))
            w.write(files.rawValue)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        switch try r.readUInt32() {
        case 1:
            self = .plan(try ContainerPlan(decoding: Array(bytes.dropFirst(8))))
        case 2:
            self = .ready
        case 3:
            self = .go
        case 4:
            self = .failed(
                StageFailure(
                    step: try r.readString(), call: try r.readString(), errno: try r.readInt32(),
                    object: try r.readOptionalString()))
        case 5:
            self = .seccompListener
        case 6:
            self = .terminal(try r.readString())
        case 7:
            self = .stageReady(StageFiles(rawValue: try r.readUInt32()))
        case let tag:
            throw WireError("unknown sync message \(tag)")
        }
    }
}

/// Which descriptors the container's stage passes with `stageReady`: one for each bit set,
/// lowest bit first, so a message with `[.seccompListener, .devptsMount]` carries the
/// listener at 0 and the devpts mount at 1.
public struct StageFiles: OptionSet, Equatable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The seccomp notify listener of the container's filter.
    public static let seccompListener = StageFiles(rawValue: 1 << 0)
    /// The mount of the container's devpts instance (LXC's `devpts_fd`).
    public static let devptsMount = StageFiles(rawValue: 1 << 1)

    /// The index of `file` among the descriptors passed, or nil when it is not passed.
    public func index(of file: StageFiles) -> Int? {
        guard contains(file) else { return nil }
        return (rawValue & (file.rawValue - 1)).nonzeroBitCount
    }
}

/// The sync socket's fd number in the container-side stage.
public let syncSocketDescriptor: Int32 = 3

/// The largest message the sync socket carries: a plan with many mounts stays far below.
public let syncMessageCapacity = 1 << 20
