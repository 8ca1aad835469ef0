import Glibc
import LXCSystem

extension LXCConfiguration {
    /// Loads an LXC config file; throws the first error, naming file and line.
    public init(contentsOf path: String) throws(ConfigError) {
        let (config, errors) = Self.check(contentsOf: path)
        if let first = errors.first { throw first }
        self = config
    }

    /// Parses config text; throws the first error. `file` names the source in errors and is
    /// where relative includes are found from.
    public init(parsing text: String, file: String? = nil) throws(ConfigError) {
        var config = LXCConfiguration()
        if let first = config.load(text, file: file).first { throw first }
        self = config
    }

    /// Loads a file and collects every error instead of stopping at the first; lines in error
    /// are kept in the saved text but change nothing.
    public static func check(contentsOf path: String) -> (LXCConfiguration, [ConfigError]) {
        var config = LXCConfiguration()
        let text: String
        do {
            text = try FileContents.readText(path)
        } catch {
            let reason = "cannot read: \(error.errno)"
            return (config, [ConfigError(file: path, key: "file", value: path, reason: reason)])
        }
        let errors = config.load(text, file: path)
        return (config, errors)
    }

    /// Applies every line of `text` as LXC's `parse_line` does: blank lines and comments are
    /// kept for saving, lines that do not start with `lxc.` are kept and ignored (with a
    /// warning), `key = value` is set with quotes around the value removed.
    /// Returns the errors, each naming file, line, key and value.
    public mutating func load(_ text: String, file: String? = nil) -> [ConfigError] {
        var errors: [ConfigError] = []
        for (offset, line) in Self.splitLines(text).enumerated() {
            do throws(ConfigError) {
                try loadLine(line, file: file, number: offset + 1, depth: 0, keep: true)
            } catch {
                errors.append(error)
            }
        }
        return errors
    }

    static func splitLines(_ text: String) -> [Substring] {
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    private mutating func loadLine(
        _ raw: Substring, file: String?, number: Int, depth: Int, keep: Bool
    ) throws(ConfigError) {
        let text = Values.trimmed(raw)
        if keep { lines.append(text.isEmpty ? "" : String(raw)) }
        guard !text.isEmpty, !text.hasPrefix("#") else { return }
        guard text.hasPrefix("lxc.") else {
            let place = file.map { "\($0):\(number): " } ?? "line \(number): "
            warnings.append(place + "\(text): not an lxc key, ignored as lxc does")
            return
        }
        guard let equals = text.firstIndex(of: "=") else {
            throw ConfigError(
                file: file, line: number, key: text, value: "", reason: "missing =")
        }
        let key = Values.trimmed(text[..<equals])
        var value = Values.trimmed(text[text.index(after: equals)...])
        if let quote = value.first, quote == "'" || quote == "\"", value.count > 1,
            value.last == quote
        {
            value = String(value.dropFirst().dropLast())
        }
        var copy = self
        do {
            try copy.apply(key, value, includeDepth: depth, from: file)
        } catch let error as ConfigError {
            throw error.located(file: file, line: number)
        } catch let error as ValueError {
            throw ConfigError(
                file: file, line: number, key: key, value: value, reason: error.reason)
        } catch {
            throw ConfigError(
                file: file, line: number, key: key, value: value, reason: "\(error)")
        }
        self = copy
    }

    mutating func apply(_ key: String, _ value: String, includeDepth: Int, from file: String?)
        throws
    {
        includeBase = file
        defer { includeBase = nil }
        try apply(key, value, includeDepth: includeDepth)
    }

    /// `lxc.include`: a file, or every `*.conf` of a directory in name order. Included lines
    /// are applied but not saved, as LXC saves only the including line.
    mutating func include(_ path: String, depth: Int) throws {
        guard depth < 16 else { throw ValueError("includes nested too deeply") }
        var resolved = path
        if !path.hasPrefix("/"), let base = includeBase, let slash = base.lastIndex(of: "/") {
            resolved = String(base[...slash]) + path
        }
        var files = [resolved]
        if Self.isDirectory(resolved) {
            files = try Self.confFiles(in: resolved)
        }
        for file in files {
            let text: String
            do {
                text = try FileContents.readText(file)
            } catch {
                throw ValueError("cannot read \(file): \(error.errno)")
            }
            for (offset, line) in Self.splitLines(text).enumerated() {
                let saved = includeBase
                try loadLine(line, file: file, number: offset + 1, depth: depth + 1, keep: false)
                includeBase = saved
            }
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func confFiles(in directory: String) throws(ValueError) -> [String] {
        guard let handle = opendir(directory) else {
            throw ValueError("cannot read \(directory): \(Errno.current)")
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".conf"), !name.hasPrefix(".") { names.append(name) }
        }
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        return names.sorted().map { base + $0 }
    }

    /// The text `save` writes: the lines, each ending in a newline.
    public var text: String {
        lines.map { $0 + "\n" }.joined()
    }

    /// `save_config`: writes `text` to `path` (mode 0640, replacing the file).
    public func save(to path: String) throws(ConfigError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw ConfigError(file: path, key: "file", value: path, reason: "\(Errno.current)")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + done, buffer.count - done)
            }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else {
                throw ConfigError(file: path, key: "file", value: path, reason: "\(Errno.current)")
            }
            done += written
        }
    }
}
