/// A config line, item or document LXCConfig refused.
///
/// The description names the file and line when there is one, then the key and the value:
/// `/var/lib/lxc/web/config:12: lxc.prlimit.nofile = abc: invalid limit`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the line came from, when it came from one.
    public var file: String?
    /// The 1-based line number in `file`.
    public var line: Int?
    /// The key as written.
    public var key: String
    /// The value as written.
    public var value: String
    /// Why it was refused, lowercase.
    public var reason: String

    /// Creates an error for `key = value`.
    public init(file: String? = nil, line: Int? = nil, key: String, value: String, reason: String) {
        self.file = file
        self.line = line
        self.key = key
        self.value = value
        self.reason = reason
    }

    public var description: String {
        var text = ""
        if let file {
            text += file + ":"
            if let line { text += "\(line):" }
            text += " "
        }
        return text + "\(key) = \(value): \(reason)"
    }

    /// The same error placed at `file:line`, unless it already names a place (an include).
    func located(file: String?, line: Int?) -> ConfigError {
        guard self.file == nil else { return self }
        var copy = self
        copy.file = file
        copy.line = line
        return copy
    }
}

/// Why a value was refused; the caller adds the key and the value.
struct ValueError: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
