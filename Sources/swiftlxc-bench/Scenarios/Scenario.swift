import Glibc
import LXCSystem

/// A benchmark scenario. Each lives in its own file in this folder and is listed once in
/// `Scenarios.all`, which fixes the order of the report.
protocol Scenario: Sendable {
    /// Stable name, used by `--only` and as the JSON key prefix.
    var id: String { get }
    /// Runs the scenario and returns one or more result groups (the spawn scenario, for one,
    /// reports a small and a large parent separately).
    func run(_ context: BenchContext) -> [ScenarioResult]
}

/// One group of the report: contenders doing the same work, compared by their medians.
struct ScenarioResult {
    var id: String
    var title: String
    /// Why the whole group was not measured ("seccomp has not landed"); nil when measured.
    var skipped: String?
    var contenders: [ContenderResult] = []
    /// Facts a reader needs to interpret the numbers (parent RSS, what differs).
    var notes: [String] = []
    /// What the samples are: durations, or memory sizes.
    var unit: SampleUnit = .time
    /// The runs of this group when they differ from the bench's settings.
    var settings: RunSettings?

    /// A group that was not measured, listed so the table shows every scenario of the issue.
    static func skipped(_ id: String, _ title: String, reason: String) -> ScenarioResult {
        ScenarioResult(id: id, title: title, skipped: reason)
    }

    /// SwiftLXC's contender when it was measured.
    var reference: ContenderResult? {
        contenders.first { $0.isSwiftLXC && $0.statistics != nil }
    }

    /// Each other measured contender's median divided by SwiftLXC's: above 1, SwiftLXC is
    /// faster. Only positive medians make a ratio: a zero or negative one (a memory drop too
    /// small to see, a difference of two noisy runs) has no meaningful quotient, and the
    /// chart's log scale could not draw it.
    var ratios: [(name: String, ratio: Double)] {
        guard let base = reference?.statistics?.median, base > 0, base.isFinite else { return [] }
        return contenders.compactMap { contender in
            guard !contender.isSwiftLXC, let median = contender.statistics?.median,
                median > 0, median.isFinite
            else { return nil }
            return (contender.name, median / base)
        }
    }
}

/// The unit of a group's samples and how the report shows them.
enum SampleUnit {
    /// Nanoseconds, shown as milliseconds.
    case time
    /// Nanoseconds, shown as microseconds: for work that takes a few of them.
    case microseconds
    /// KiB, shown as MiB.
    case memory

    /// The column and JSON key suffix.
    var name: String {
        switch self {
        case .time: "ms"
        case .microseconds: "us"
        case .memory: "MiB"
        }
    }

    /// A sample in the unit the report shows.
    func scaled(_ sample: Double) -> Double {
        switch self {
        case .time: sample / 1e6
        case .microseconds: sample / 1e3
        case .memory: sample / 1024
        }
    }

    /// A sample as the report shows it: milliseconds with three decimals, microseconds and
    /// MiB with two.
    func format(_ sample: Double) -> String {
        switch self {
        case .time: milliseconds(sample)
        case .microseconds: fixed(sample / 1e3, 2)
        case .memory: fixed(sample / 1024, 2)
        }
    }
}

/// What every scenario may use: the settings, the paths of the peers' files, `/dev/null`.
final class BenchContext {
    let settings: RunSettings
    /// The `swiftlxc` binary under test.
    let swiftlxcPath: String
    /// Where `Scripts/peers.sh` put the rootfs, the OCI bundle and the LXC config.
    let peersDirectory: String
    /// Size the spawn scenario grows the process to, in MiB.
    let largeParentMiB: Int
    /// Open for the whole run; every spawned program's unwanted output goes here.
    let devNull: FileDescriptor

    init(
        settings: RunSettings, swiftlxcPath: String, peersDirectory: String,
        largeParentMiB: Int, devNull: consuming FileDescriptor
    ) {
        self.settings = settings
        self.swiftlxcPath = swiftlxcPath
        self.peersDirectory = peersDirectory
        self.largeParentMiB = largeParentMiB
        self.devNull = devNull
    }

    var bundlePath: String { "\(peersDirectory)/bundle" }
    var rootfsPath: String { "\(peersDirectory)/bundle/rootfs" }
    var lxcPath: String { "\(peersDirectory)/lxc" }
    var lxcConfigPath: String { "\(peersDirectory)/lxc/bench.conf" }
    /// The system containers' files: `rootfs` from Scripts/make-rootfs.sh, `empty.conf` and
    /// `veth.conf`, and the lxcpaths both runtimes create containers in.
    var systemPath: String { "\(peersDirectory)/system" }
}

/// The scenarios of the benchmark issue, in report order.
enum Scenarios {
    static let all: [any Scenario] = [
        SpawnScenario(),
        StartScenario(),
        SystemStartScenario(),
        ConcurrentStartScenario(),
        MonitorRSSScenario(),
        ConsoleScenario(),
        SeccompScenario(),
        SeccompNotifyScenario(),
        MountInjectionScenario(),
        NetworkScenario(),
        AttachScenario(),
    ]
}
