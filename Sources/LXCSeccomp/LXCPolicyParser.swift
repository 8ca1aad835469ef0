import LXCSystem

/// Reads LXC's seccomp policy language (`lxc.seccomp.profile`), as LXC 5.0.2 does.
///
/// ```
/// 2
/// denylist errno 38
/// [all]
/// kexec_load errno 1
/// mknod errno 1 [1,0x2000,SCMP_CMP_MASKED_EQ,0xf000]
/// ```
///
/// - The first line is the version: 1 (native syscall numbers, an allow list) or 2 (names).
/// - The second line is `allowlist` or `denylist` (and the older `whitelist`, `blacklist`),
///   optionally followed by the default action. A denylist allows what no rule names and its
///   rules kill unless they say otherwise; an allowlist kills and its rules allow.
/// - A rule is `syscall [action [conditions]]`; actions are `kill`, `errno N`, `allow`,
///   `trap`, `notify` and `log`, read by prefix as LXC reads them. Conditions are
///   `[index,value,op]` or `[index,value,op,mask]` with `SCMP_CMP_*` or `!=`, `<`, `<=`, `==`,
///   `>=`, `>`, `&=`, and need an explicit action before them.
/// - `[arch]` sections (`[x86]`, `[x32]`, `[x86_64]`, `[all]`, `[arm]`, `[arm64]`, `[ppc]`…,
///   lowercase or uppercase) decide whether the rules below apply on this host. As in LXC,
///   rules that apply go to every architecture of the filter; a foreign section is skipped.
/// - Lines starting with `#` are comments. `reject_force_umount` makes `umount2` with
///   `MNT_FORCE` fail with EACCES.
///
/// Where SwiftLXC differs: it accepts `whitelist` in version 1 policies (5.0.2 only accepts
/// `allowlist` there), ignores trailing spaces on the second line, adds the `log` action and
/// refuses an `errno` outside 0…65535 instead of truncating it.
public enum LXCPolicyParser {
    /// Reads the policy file at `path`.
    public static func load(
        contentsOf path: String, native: SeccompArchitecture = .native
    ) throws(SeccompError) -> SeccompPolicy {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(path)
        } catch {
            throw .system(error)
        }
        return try parse(String(decoding: bytes, as: UTF8.self), file: path, native: native)
    }

    /// Parses policy text; `file` names it in errors and warnings. Nothing is returned when
    /// any line is refused.
    public static func parse(
        _ text: String, file: String, native: SeccompArchitecture = .native
    ) throws(SeccompError) -> SeccompPolicy {
        var parser = Parser(text: text, file: file, native: native)
        return try parser.run()
    }
}

private struct Parser {
    let file: String
    let native: SeccompArchitecture
    var lines: [Substring]
    var warnings: [String] = []

    init(text: String, file: String, native: SeccompArchitecture) {
        self.file = file
        self.native = native
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // A final newline ends the last line rather than starting an empty one.
        if lines.last?.isEmpty == true { lines.removeLast() }
    }

    func fail(_ line: Int?, _ reason: String) -> SeccompError {
        .invalidPolicy(file: file, line: line, reason: reason)
    }

    mutating func run() throws(SeccompError) -> SeccompPolicy {
        // The version is read like fscanf("%d\n"): blanks around it, blank lines after it.
        var index = 0
        while index < lines.count, lines[index].allSatisfy(\.isWhitespace) { index += 1 }
        guard index < lines.count else { throw fail(nil, "empty policy: expected a version") }
        let versionLine = index + 1
        var rest = lines[index].drop { $0 == " " || $0 == "\t" }
        guard let version = Scan.integer(&rest) else {
            throw fail(versionLine, "expected the policy version (1 or 2), found \"\(rest)\"")
        }
        guard version == 1 || version == 2 else {
            throw fail(versionLine, "unsupported policy version \(version): lxc reads 1 and 2")
        }
        rest = rest.drop { $0 == " " || $0 == "\t" }
        var headerLine = versionLine
        if rest.isEmpty {
            index += 1
            while index < lines.count, lines[index].allSatisfy(\.isWhitespace) { index += 1 }
            guard index < lines.count else {
                throw fail(versionLine, "missing the policy type line (allowlist or denylist)")
            }
            headerLine = index + 1
            rest = lines[index].drop { $0 == " " || $0 == "\t" }
        }
        let header = String(rest.reversed().drop(while: \.isWhitespace).reversed())
        if header.contains("debug") {
            throw fail(headerLine, "the debug directive is not implemented")
        }
        let body = Array(lines[(index + 1)...].enumerated().map { (index + 2 + $0.offset, $0.1) })
        if version == 1 {
            return try versionOne(header: header, headerLine: headerLine, body: body)
        }
        return try versionTwo(header: header, headerLine: headerLine, body: body)
    }

    mutating func versionOne(header: String, headerLine: Int, body: [(Int, Substring)])
        throws(SeccompError) -> SeccompPolicy
    {
        guard header.contains("allowlist") || header.contains("whitelist") else {
            throw fail(headerLine, "version 1 policies must be allowlists, found \"\(header)\"")
        }
        var rules: [SeccompRule] = []
        for (number, line) in body {
            var rest = line.drop { $0 == " " || $0 == "\t" }
            guard let value = Scan.integer(&rest), let syscall = Int32(exactly: value) else {
                throw fail(number, "expected a system call number, found \"\(line)\"")
            }
            rules.append(
                SeccompRule(syscall: .number(syscall), action: .allow, origin: "line \(number)"))
        }
        return SeccompPolicy(
            file: file, dialect: .lxcVersion1, defaultAction: .killThread, rules: rules,
            warnings: warnings)
    }

    mutating func versionTwo(header: String, headerLine: Int, body: [(Int, Substring)])
        throws(SeccompError) -> SeccompPolicy
    {
        let isDenylist: Bool
        if header.hasPrefix("denylist") || header.hasPrefix("blacklist") {
            isDenylist = true
        } else if header.hasPrefix("allowlist") || header.hasPrefix("whitelist") {
            isDenylist = false
        } else {
            throw fail(headerLine, "bad policy type \"\(header)\": expected allowlist or denylist")
        }
        var defaultAction: SeccompAction = isDenylist ? .allow : .killThread
        if let space = header.firstIndex(of: " ") {
            let text = header[header.index(after: space)...]
            switch Self.action(text) {
            case .none: break
            case .some(.success(let action)): defaultAction = action
            case .some(.failure(let reason)):
                throw fail(headerLine, "\(reason) as the default action")
            }
        }
        let ruleDefault: SeccompAction = isDenylist ? .killThread : .allow

        var rules: [SeccompRule] = []
        var sectionApplies = true
        for (number, line) in body {
            if line.first == "#" || line.allSatisfy(\.isWhitespace) { continue }
            if line.first == "[" {
                sectionApplies = try section(String(line), line: number)
                continue
            }
            guard sectionApplies else { continue }
            rules.append(try rule(line, number: number, default: ruleDefault))
        }
        let compat = SeccompArchitecture.lxcCompat(for: native).filter { $0.token != 0 }
        return SeccompPolicy(
            file: file, dialect: .lxcVersion2, defaultAction: defaultAction,
            extraArchitectures: compat, rules: rules, warnings: warnings)
    }

    /// Whether the rules after `[name]` apply here; throws for a section LXC does not know.
    mutating func section(_ text: String, line: Int) throws(SeccompError) -> Bool {
        let name = String(text.dropFirst().dropLast())
        guard text.hasSuffix("]") else {
            throw fail(line, "unsupported architecture section \"\(text)\"")
        }
        if name == "all" || name == "ALL" { return true }
        guard let arch = SeccompArchitecture.all.first(where: { $0.lxcSections.contains(name) })
        else {
            throw fail(line, "unsupported architecture section \"\(text)\"")
        }
        if arch.lxcSectionApplies(on: native) { return true }
        warnings.append(
            "\(file):\(line): section \(text) does not apply on \(native); its rules are skipped")
        return false
    }

    /// One `syscall [action [conditions]]` line.
    func rule(_ line: Substring, number: Int, default ruleDefault: SeccompAction)
        throws(SeccompError) -> SeccompRule
    {
        let space = line.firstIndex(of: " ")
        let name = String(line[..<(space ?? line.endIndex)])
        let subject = name.isEmpty ? "the rule" : name
        var action = ruleDefault
        if let space {
            let text = line[line.index(after: space)...].drop { $0 == " " }
            if let first = text.first, first != "#" {
                switch Self.action(text) {
                case .none: break
                case .some(.success(let parsed)): action = parsed
                case .some(.failure(let reason)): throw fail(number, "\(reason) for \(subject)")
                }
            }
        }
        var conditions: [ArgumentCondition] = []
        if line.contains("[") {
            // LXC splits the whole line at every "]" and reads up to six pieces as conditions.
            for piece in line.split(separator: "]").prefix(6) {
                switch Self.condition(piece) {
                case .success(let condition): conditions.append(condition)
                case .failure(let reason):
                    throw fail(number, "bad argument condition for \(subject): \(reason)")
                }
            }
        }
        let isReject = name.hasPrefix("reject_force_umount")
        return SeccompRule(
            syscall: .name(name), action: action, conditions: conditions,
            origin: "line \(number)", isRejectForceUmount: isReject)
    }

    /// An action word read by prefix as LXC reads it; nil for empty text.
    static func action(_ text: Substring) -> Result<SeccompAction, Reason>? {
        let text = text.drop { $0 == " " }
        if text.isEmpty { return nil }
        if text.hasPrefix("kill") { return .success(.killThread) }
        if text.hasPrefix("errno") {
            var rest = text.dropFirst(5).drop { $0 == " " || $0 == "\t" }
            guard let value = Scan.integer(&rest) else {
                return .failure(Reason("the errno action needs a number"))
            }
            guard let errno = UInt16(exactly: value) else {
                return .failure(Reason("errno \(value) is out of range"))
            }
            return .success(.errno(errno))
        }
        if text.hasPrefix("allow") { return .success(.allow) }
        if text.hasPrefix("trap") { return .success(.trap) }
        if text.hasPrefix("notify") { return .success(.notify) }
        if text.hasPrefix("log") { return .success(.log) }
        return .failure(Reason("unknown action \"\(text)\""))
    }

    /// `[index,value,op]` or `[index,value,op,mask]` with the closing `]` already removed;
    /// anything before the `[` is ignored, as LXC ignores it.
    static func condition(_ piece: Substring) -> Result<ArgumentCondition, Reason> {
        guard let open = piece.firstIndex(of: "[") else {
            return .failure(Reason("\"\(piece)\" is not [index,value,op] or [index,value,op,mask]"))
        }
        let text = piece[open...]
        var rest = text.dropFirst()
        let shape = Reason("\"\(text)]\" is not [index,value,op] or [index,value,op,mask]")
        guard let index = Scan.integer(&rest), rest.first == "," else { return .failure(shape) }
        rest = rest.dropFirst()
        let valueText = rest.prefix { $0 != "," }
        rest = rest.dropFirst(valueText.count)
        guard !valueText.isEmpty, valueText.count <= 23, rest.first == "," else {
            return .failure(shape)
        }
        rest = rest.dropFirst()
        let opText = rest.prefix { !("0"..."9").contains($0) && $0 != "^" && $0 != "," }
        rest = rest.dropFirst(opText.count)
        guard !opText.isEmpty, opText.count <= 30 else { return .failure(shape) }
        var maskText: Substring = "0"
        if rest.first == "," {
            maskText = rest.dropFirst().prefix { $0 != "," }
            guard !maskText.isEmpty, maskText.count <= 23 else { return .failure(shape) }
        }
        guard (0..<6).contains(index) else {
            return .failure(Reason("argument index \(index) in \"\(text)]\" is not 0 to 5"))
        }
        guard let value = Scan.unsigned(valueText) else {
            return .failure(Reason("invalid value \"\(valueText)\" in \"\(text)]\""))
        }
        guard let mask = Scan.unsigned(maskText) else {
            return .failure(Reason("invalid mask \"\(maskText)\" in \"\(text)]\""))
        }
        guard let comparison = SeccompComparison(spelling: String(opText)) else {
            return .failure(Reason("unknown operator \"\(opText)\" in \"\(text)]\""))
        }
        return .success(ArgumentCondition(index: UInt32(index), comparison, value, mask: mask))
    }
}

/// Why a piece of a line was refused (a `Result` failure).
struct Reason: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// The C number readers LXC relies on, for the parts of a line they accept.
enum Scan {
    /// `strtol` with base 0 at the start of `text` (sign, `0x`, leading `0` for octal);
    /// advances past the digits. Nil when no digit follows.
    static func integer(_ text: inout Substring) -> Int64? {
        var rest = text
        var negative = false
        if let sign = rest.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        var radix: UInt64 = 10
        if rest.hasPrefix("0x") || rest.hasPrefix("0X"),
            rest.dropFirst(2).first?.hexDigitValue != nil
        {
            radix = 16
            rest = rest.dropFirst(2)
        } else if rest.first == "0" {
            radix = 8
        }
        var value: UInt64 = 0
        var digits = 0
        while let digit = rest.first?.hexDigitValue, UInt64(digit) < radix {
            let (product, overflow) = value.multipliedReportingOverflow(by: radix)
            let (sum, overflow2) = product.addingReportingOverflow(UInt64(digit))
            guard !overflow, !overflow2, sum <= UInt64(Int64.max) else { return nil }
            value = sum
            digits += 1
            rest = rest.dropFirst()
        }
        guard digits > 0 else { return nil }
        text = rest
        return negative ? -Int64(value) : Int64(value)
    }

    /// LXC's `lxc_safe_uint64` with base 0: leading blanks, no sign, nothing after the digits.
    static func unsigned(_ text: Substring) -> UInt64? {
        var rest = text.drop { $0 == " " || $0 == "\t" }
        if rest.first == "+" { rest = rest.dropFirst() }
        var radix = 10
        if rest.hasPrefix("0x") || rest.hasPrefix("0X") {
            radix = 16
            rest = rest.dropFirst(2)
        } else if rest.count > 1, rest.first == "0" {
            radix = 8
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else { return nil }
        return UInt64(rest, radix: radix)
    }
}
