import Glibc
import LXCSystem

/// The monotonic clock in nanoseconds. CLOCK_MONOTONIC is not stepped by NTP or `date`, so a
/// difference of two readings is a duration.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Why one run of a contender failed; its text is shown in the report as it is.
struct BenchError: Error, CustomStringConvertible {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}

/// One way of doing a scenario's work: an external command or an in-process closure. The
/// harness times each call of `body`; a throw means the work was not done.
struct Contender {
    /// Short name for the table (`crun`, `fork+exec`).
    var name: String
    /// What exactly runs, for the report.
    var detail: String
    /// The SwiftLXC contender: every other contender's median is divided by its median.
    var isSwiftLXC: Bool
    /// One run of the work.
    var body: () throws(BenchError) -> Void
    /// Run before the check and after the last run, untimed: removes state a killed earlier
    /// run may have left (a container id still registered with crun, for example).
    var cleanup: () -> Void = {}
    /// The untimed check before the first run; nil runs `body`. Commands use it to capture
    /// their output, so a failure is reported with the program's own words.
    var check: (() throws(BenchError) -> Void)? = nil
    /// When set, a run reports its own sample (a memory size, or a duration it timed itself)
    /// and the harness records that instead of timing `body`.
    var sample: (() throws(BenchError) -> UInt64)? = nil
}

extension Contender {
    /// A contender that runs `command` quietly and requires exit status 0.
    static func command(
        _ name: String, _ command: ExternalCommand, isSwiftLXC: Bool = false,
        devNull: Int32, cleanup: ExternalCommand? = nil
    ) -> Contender {
        Contender(
            name: name, detail: command.commandLine, isSwiftLXC: isSwiftLXC,
            body: { () throws(BenchError) in try command.runQuietly(devNull: devNull) },
            cleanup: { _ = try? cleanup?.capture(devNull: devNull) },
            check: { () throws(BenchError) in try command.check(devNull: devNull) })
    }

    /// A contender whose runs measure themselves: `sample` returns one sample in the unit of
    /// its group. The check is one untimed call of `sample`.
    static func sampled(
        _ name: String, detail: String, isSwiftLXC: Bool = false,
        cleanup: @escaping () -> Void = {},
        sample: @escaping () throws(BenchError) -> UInt64
    ) -> Contender {
        Contender(
            name: name, detail: detail, isSwiftLXC: isSwiftLXC,
            body: { () throws(BenchError) in _ = try sample() }, cleanup: cleanup,
            sample: sample)
    }
}

/// Order statistics of one contender's measured runs, in nanoseconds.
struct Statistics {
    var runs: Int
    var median: Double
    var p10: Double
    var p90: Double
    var minimum: Double

    /// Computes the statistics of `samples`; it must not be empty.
    init(_ samples: [UInt64]) {
        // A closure: an unapplied `Double.init` resolves to `init(bitPattern:)` here.
        self.init(values: samples.map { Double($0) })
    }

    /// Computes the statistics of `values`, which may be negative (a difference of two
    /// contenders' paired runs); it must not be empty.
    init(values: [Double]) {
        let sorted = values.sorted()
        runs = sorted.count
        let middle = sorted.count / 2
        median =
            sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        // Nearest rank: with 100 runs p10 is the 11th fastest and p90 the 11th slowest.
        func rank(_ fraction: Double) -> Double {
            sorted[Int((fraction * Double(sorted.count - 1)).rounded())]
        }
        p10 = rank(0.10)
        p90 = rank(0.90)
        minimum = sorted[0]
    }
}

/// How a contender came out of a scenario.
enum Outcome {
    case measured(Statistics)
    /// The work failed, in the check before timing or in a measured run; never timed.
    case failed(String)
    /// The contender could not take part (a missing binary or verb).
    case skipped(String)
}

/// One contender's line in a result group.
struct ContenderResult {
    var name: String
    var detail: String
    var isSwiftLXC: Bool
    var outcome: Outcome
    /// The measured samples in run order, for groups derived from paired runs; not reported.
    var samples: [UInt64] = []

    var statistics: Statistics? {
        if case .measured(let statistics) = outcome { return statistics }
        return nil
    }
}

/// How many runs to make.
struct RunSettings {
    var runs: Int
    var warmups: Int
    /// A pause before every run, so the asynchronous kernel work the previous run left (see
    /// `Harness`) is over before the next is timed; 0 runs them back to back.
    var settleMilliseconds = 0

    /// At most `runs` measured runs and `warmups` warm-ups: for scenarios whose one run takes
    /// a second or holds much memory, so the full bench stays within minutes.
    func capped(runs: Int, warmups: Int) -> RunSettings {
        RunSettings(
            runs: min(self.runs, runs), warmups: min(self.warmups, warmups),
            settleMilliseconds: settleMilliseconds)
    }
}

/// Runs contenders against each other, alternating A, B, A, B… so that a slow phase of the
/// machine (another tenant, a writeback burst) falls on every contender alike.
///
/// The order changes each round, a shuffle from a fixed seed (the same orders on every
/// bench run), so every contender follows every other about equally often: a run's time
/// depends on what ran just before it. `--runs-log` on the start scenario: on a busy machine
/// crun took 18.7 ms after runc and 12.8 after swiftlxc; on a quiet one swiftlxc took 15.1 ms
/// after runc and 10.0 to 10.3 after the others. A container's end leaves kernel work behind
/// (the network namespace is torn down by a workqueue, cgroups go offline after RCU grace
/// periods), and strace shows a runtime's first write to a `cgroup.procs` sometimes waiting
/// 4 to 13 ms, sometimes not. With a fixed order SwiftLXC always ran right after runc and
/// crun right after SwiftLXC; a rotation (A B C, B C A…) would not have helped, since it
/// keeps who runs after whom.
enum Harness {
    /// Where `--runs-log` sends one line per run: group, round, contender, the contender that
    /// ran just before it, sample. The bench is single-threaded.
    nonisolated(unsafe) static var runLog: FileDescriptor?

    /// Checks each contender once, discards `warmups` rounds, then times `runs` rounds.
    /// A contender whose check or any run throws is reported failed with the error and leaves
    /// the rotation; the others continue.
    static func measure(
        _ contenders: [Contender], settings: RunSettings, label: String
    ) -> [ContenderResult] {
        var failures: [String?] = Array(repeating: nil, count: contenders.count)
        var samples: [[UInt64]] = Array(repeating: [], count: contenders.count)
        for contender in contenders { contender.cleanup() }

        // The check: the work must really be done (exit status 0) before anything is timed.
        for (index, contender) in contenders.enumerated() {
            do {
                try (contender.check ?? contender.body)()
            } catch {
                failures[index] = "check failed: \(error.message)"
                progress("\(label): \(contender.name): \(error.message)")
            }
        }

        let total = settings.warmups + settings.runs
        var generator = SplitMix64(seed: 0x5357_4946_544C_5843)
        var previous: Int?
        for round in 0..<total {
            let order = contenders.indices.shuffled(using: &generator)
            for index in order where failures[index] == nil {
                let contender = contenders[index]
                if settings.settleMilliseconds > 0 {
                    usleep(useconds_t(settings.settleMilliseconds) * 1000)
                }
                let before = previous
                previous = index
                let start = monotonicNanoseconds()
                let value: UInt64
                do {
                    if let sample = contender.sample {
                        value = try sample()
                    } else {
                        try contender.body()
                        value = monotonicNanoseconds() - start
                    }
                } catch {
                    failures[index] = "run \(round + 1) failed: \(error.message)"
                    progress("\(label): \(contender.name): \(error.message)")
                    continue
                }
                if round >= settings.warmups { samples[index].append(value) }
                if runLog != nil {
                    let name = before.map { contenders[$0].name } ?? "-"
                    _ = try? runLog?.writeAll(
                        "\(label)\t\(round)\t\(contender.name)\t\(name)\t\(value)\n")
                }
            }
        }
        for contender in contenders { contender.cleanup() }

        return contenders.enumerated().map { index, contender in
            let outcome: Outcome
            if let failure = failures[index] {
                outcome = .failed(failure)
            } else {
                outcome = .measured(Statistics(samples[index]))
            }
            return ContenderResult(
                name: contender.name, detail: contender.detail, isSwiftLXC: contender.isSwiftLXC,
                outcome: outcome, samples: samples[index])
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood): a small generator whose fixed seed makes the bench's
/// run orders the same from one run to the next, unlike the system generator.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A progress line on stderr, so stdout holds only the report.
func progress(_ text: String) {
    var bytes = Array("bench: \(text)\n".utf8)
    bytes.withUnsafeMutableBytes { buffer in
        _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count)
    }
}
