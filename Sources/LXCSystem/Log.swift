import Glibc
import Synchronization

/// LXC's log levels, lowest first. The default is `error`.
public enum LogLevel: Int, Comparable, CaseIterable, Sendable {
    case trace, debug, info, notice, warn, error, crit, alert, fatal

    /// The level as LXC prints it: `TRACE` … `FATAL`.
    public var name: String {
        switch self {
        case .trace: return "TRACE"
        case .debug: return "DEBUG"
        case .info: return "INFO"
        case .notice: return "NOTICE"
        case .warn: return "WARN"
        case .error: return "ERROR"
        case .crit: return "CRIT"
        case .alert: return "ALERT"
        case .fatal: return "FATAL"
        }
    }

    /// Parses a level name case-insensitively, as `lxc_log_init` does.
    public init?(name: String) {
        let upper = name.uppercased()
        guard let level = LogLevel.allCases.first(where: { $0.name == upper }) else { return nil }
        self = level
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The arguments of `lxc_log_init`.
public struct LogOptions: Sendable {
    /// Printed after the prefix on every line; usually the container's name.
    public var name: String?
    /// Where `<name>/<name>.log` goes when `file` is nil.
    public var lxcpath: String?
    /// The log file; `"none"` disables it; nil picks LXC's default place.
    public var file: String?
    /// A level name; nil keeps `ERROR`.
    public var level: String?
    /// The first word of every line; LXC's tools use their own name.
    public var prefix: String?
    /// false adds the stderr appender (errors and worse).
    public var quiet: Bool

    public init(
        name: String? = nil, lxcpath: String? = nil, file: String? = nil, level: String? = nil,
        prefix: String? = nil, quiet: Bool = true
    ) {
        self.name = name
        self.lxcpath = lxcpath
        self.file = file
        self.level = level
        self.prefix = prefix
        self.quiet = quiet
    }
}

/// Line formats: LXC's text, or the JSON lines (`level`, `msg`, `time`) that podman and
/// containerd read from an OCI runtime's `--log-format json`.
public enum LogFormat: String, Sendable {
    case text
    case json
}

/// Errors of the log's set-up.
public enum LogError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownLevel(String)
    case cannotOpen(SyscallError)

    public var description: String {
        switch self {
        case .unknownLevel(let name): return "unknown log level \(name)"
        case .cannotOpen(let error): return "cannot open log file: \(error)"
        }
    }
}

/// The process-wide log, with LXC's semantics: one `initialize` per process (a second is a
/// no-op), a level filter, a log file and an optional stderr appender.
public enum Log {
    /// LXC's `LOGPATH` and `LXCPATH` on Debian.
    public static let defaultLogDirectory = "/var/log/lxc"
    public static let defaultLXCPath = "/var/lib/lxc"

    private struct State: ~Copyable {
        var initialized = false
        var level = LogLevel.error
        var prefix = "lxc"
        var name: String?
        var fileDescriptor: Int32 = -1
        var filePath: String?
        var toStderr = false
        var format = LogFormat.text
    }

    /// The state lives in a class instance: a global `Mutex` of this struct came out of the
    /// fully static release build zero-filled (level TRACE, fd 0, no prefix) instead of
    /// initialised, so every debug line went to fd 0. A class is created by its initializer.
    private final class Box: Sendable {
        let state = Mutex(State())
    }

    private static let box = Box()

    /// Sets the log up as `lxc_log_init` does. Returns false, changing nothing, when the log
    /// was already set up.
    @discardableResult
    public static func initialize(_ options: LogOptions) throws(LogError) -> Bool {
        var level = LogLevel.error
        if let name = options.level {
            guard let parsed = LogLevel(name: name) else { throw .unknownLevel(name) }
            level = parsed
        }
        let path = logFilePath(for: options)
        return try box.state.withLock { state throws(LogError) -> Bool in
            if state.initialized { return false }
            if let path {
                let fd = openLogFile(path)
                guard fd >= 0 else {
                    throw .cannotOpen(SyscallError(.current, call: "open", object: path))
                }
                state.fileDescriptor = fd
                state.filePath = path
            }
            state.initialized = true
            state.level = level
            state.prefix = options.prefix ?? "lxc"
            state.name = options.name
            state.toStderr = !options.quiet
            return true
        }
    }

    /// Sets the log up for the OCI command line: `--log PATH --log-format text|json`.
    /// A nil path logs to stderr. Returns false when already set up.
    @discardableResult
    public static func initializeRuntime(path: String?, format: LogFormat, level: LogLevel)
        throws(LogError) -> Bool
    {
        try box.state.withLock { state throws(LogError) -> Bool in
            if state.initialized { return false }
            if let path {
                let fd = openLogFile(path)
                guard fd >= 0 else {
                    throw .cannotOpen(SyscallError(.current, call: "open", object: path))
                }
                state.fileDescriptor = fd
                state.filePath = path
            } else {
                state.fileDescriptor = dup(STDERR_FILENO)
            }
            state.initialized = true
            state.level = level
            state.format = format
            return true
        }
    }

    /// Closes the log file and allows a new `initialize` (`lxc_log_close`).
    public static func close() {
        box.state.withLock { state in
            if state.fileDescriptor >= 0 { _ = Glibc.close(state.fileDescriptor) }
            state = State()
        }
    }

    /// The current level; events below it are dropped.
    public static var level: LogLevel {
        get { box.state.withLock { $0.level } }
        set { box.state.withLock { $0.level = newValue } }
    }

    /// The file the log writes to, if any.
    public static var filePath: String? { box.state.withLock { $0.filePath } }

    /// Whether an event at `level` would be written.
    public static func isEnabled(_ level: LogLevel) -> Bool {
        box.state.withLock { state in
            level >= state.level && (state.fileDescriptor >= 0 || state.toStderr)
        }
    }

    /// Writes one event to the log file (and to stderr when it is on and the event is an
    /// error or worse, as LXC's stderr appender does).
    public static func write(
        _ level: LogLevel, category: String, _ message: String, file: String, function: String,
        line: Int
    ) {
        box.state.withLock { state in
            guard level >= state.level else { return }
            let time = Timestamp.now()
            if state.fileDescriptor >= 0 {
                let text: String
                switch state.format {
                case .text:
                    text = formatLine(
                        prefix: state.prefix, name: state.name, time: time, level: level,
                        category: category, file: file, function: function, line: line,
                        message: message)
                case .json:
                    text = formatJSON(level: level, message: message, time: time)
                }
                writeLine(text, to: state.fileDescriptor)
            }
            if state.toStderr && level >= .error {
                let name = state.name.map { "\($0): " } ?? ""
                let text = "\(state.prefix): \(name)\(file): \(function): \(line) \(message)"
                writeLine(text, to: STDERR_FILENO)
            }
        }
    }

    /// One line in LXC's format:
    /// `prefix name 20261203135405.683 ERROR    category - file:function:line - message`.
    public static func formatLine(
        prefix: String, name: String?, time: Timestamp, level: LogLevel, category: String,
        file: String, function: String, line: Int, message: String
    ) -> String {
        let head = name.map { "\(prefix) \($0)" } ?? prefix
        let padded = level.name + String(repeating: " ", count: max(0, 8 - level.name.count))
        return "\(head) \(time.lxcText) \(padded) \(category) - \(file):\(function):\(line) - "
            + message
    }

    /// One JSON line with `level`, `msg` and `time`, keys in the order logrus writes them.
    public static func formatJSON(level: LogLevel, message: String, time: Timestamp) -> String {
        let name: String
        switch level {
        case .trace: name = "trace"
        case .debug: name = "debug"
        case .info, .notice: name = "info"
        case .warn: name = "warning"
        case .error: name = "error"
        case .crit, .alert, .fatal: name = "fatal"
        }
        return "{\"level\":\"\(name)\",\"msg\":\(JSONText.quote(message)),"
            + "\"time\":\"\(time.rfc3339Text)\"}"
    }

    private static func logFilePath(for options: LogOptions) -> String? {
        if let file = options.file { return file == "none" ? nil : file }
        guard let name = options.name else { return nil }
        let lxcpath = options.lxcpath ?? defaultLogDirectory
        // LXC prefers LOGPATH for root with the default lxcpath, else <lxcpath>/<name>/.
        if geteuid() == 0 && lxcpath == defaultLXCPath {
            return "\(defaultLogDirectory)/\(name).log"
        }
        if lxcpath == defaultLogDirectory { return "\(defaultLogDirectory)/\(name).log" }
        _ = mkdir(lxcpath, 0o755)
        _ = mkdir("\(lxcpath)/\(name)", 0o755)
        return "\(lxcpath)/\(name)/\(name).log"
    }

    private static func openLogFile(_ path: String) -> Int32 {
        Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
    }

    private static func writeLine(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        // One write per line keeps lines whole when several processes share the file.
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

/// A wall-clock instant, printed the way LXC and logrus print it.
public struct Timestamp: Sendable, Equatable {
    public var seconds: Int
    public var nanoseconds: Int

    public init(seconds: Int, nanoseconds: Int) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(seconds: spec.tv_sec, nanoseconds: spec.tv_nsec)
    }

    private var utc: tm {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return parts
    }

    /// `YYYYMMDDhhmmss.mmm` in UTC, LXC's log timestamp.
    public var lxcText: String {
        let t = utc
        return pad(Int(t.tm_year) + 1900, 4) + pad(Int(t.tm_mon) + 1, 2) + pad(Int(t.tm_mday), 2)
            + pad(Int(t.tm_hour), 2) + pad(Int(t.tm_min), 2) + pad(Int(t.tm_sec), 2) + "."
            + pad(nanoseconds / 1_000_000, 3)
    }

    /// RFC 3339 in UTC with nanoseconds, as logrus writes `time`.
    public var rfc3339Text: String {
        let t = utc
        return pad(Int(t.tm_year) + 1900, 4) + "-" + pad(Int(t.tm_mon) + 1, 2) + "-"
            + pad(Int(t.tm_mday), 2) + "T" + pad(Int(t.tm_hour), 2) + ":" + pad(Int(t.tm_min), 2)
            + ":" + pad(Int(t.tm_sec), 2) + "." + pad(nanoseconds, 9) + "Z"
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

/// A log category, named like LXC's per-file categories (`start`, `conf`, `cgfsng`).
public struct Logger: Sendable {
    public let category: String

    public init(_ category: String) {
        self.category = category
    }

    public func log(
        _ level: LogLevel, _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) {
        guard Log.isEnabled(level) else { return }
        let file = file.split(separator: "/").last.map(String.init) ?? file
        Log.write(level, category: category, message(), file: file, function: function, line: line)
    }

    public func trace(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.trace, message(), file: file, function: function, line: line) }

    public func debug(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.debug, message(), file: file, function: function, line: line) }

    public func info(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.info, message(), file: file, function: function, line: line) }

    public func notice(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.notice, message(), file: file, function: function, line: line) }

    public func warn(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.warn, message(), file: file, function: function, line: line) }

    public func error(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.error, message(), file: file, function: function, line: line) }

    public func crit(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.crit, message(), file: file, function: function, line: line) }

    public func alert(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.alert, message(), file: file, function: function, line: line) }

    public func fatal(
        _ message: @autoclosure () -> String, file: String = #fileID,
        function: String = #function, line: Int = #line
    ) { log(.fatal, message(), file: file, function: function, line: line) }
}

/// JSON string quoting without Foundation, for the log and small state files.
public enum JSONText {
    public static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A monotonic clock in nanoseconds, for phase timings in the debug log.
public enum MonotonicClock {
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Milliseconds since `start`, with three decimals.
    public static func milliseconds(since start: UInt64) -> String {
        let micros = (now() - start) / 1000
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
