import CSeccomp
import Glibc
import LXCSystem

/// One line of the decision table: what the filter does with a system call on one
/// architecture when the conditions hold.
public struct SeccompDecision: Hashable, Sendable {
    public var syscall: String
    /// The call's number on `architecture`.
    public var number: Int32
    public var architecture: SeccompArchitecture
    public var action: SeccompAction
    /// All must hold; empty means always.
    public var conditions: [ArgumentCondition]
    /// The rule's place in the policy (`line 7`, `syscalls[3]`).
    public var origin: String
    /// False when another rule without conditions decides this call, so this one never
    /// matches.
    public var isEffective = true
}

/// A policy compiled by libseccomp: the classic BPF program to install and what it decides.
public struct CompiledFilter: Sendable {
    /// The program as the kernel takes it: `struct sock_filter` instructions of 8 bytes each.
    public var program: [UInt8]
    /// libseccomp's pseudo filter code, for people.
    public var pfc: String
    /// The flags to install the program with: the policy's, `SECCOMP_FILTER_FLAG_NEW_LISTENER`
    /// when a rule notifies, and never TSYNC (the container's stage is single-threaded, and
    /// the kernel refuses TSYNC together with a listener).
    public var flags: SeccompFilterFlags
    public var defaultAction: SeccompAction
    /// The native architecture first, then the others the filter covers.
    public var architectures: [SeccompArchitecture]
    /// Every rule that went into the filter, per architecture, in policy order.
    public var decisions: [SeccompDecision]
    /// The parser's warnings, then rules skipped or shadowed here.
    public var warnings: [String]

    /// The number of BPF instructions.
    public var instructionCount: Int { program.count / 8 }

    /// Whether installing the program yields a listener fd to serve.
    public var needsListener: Bool { flags.contains(.newListener) }

    /// The rules that decide `syscall` on `architecture` (native by default); empty when
    /// the default action does.
    public func decisions(
        for syscall: String, on architecture: SeccompArchitecture = .native
    ) -> [SeccompDecision] {
        decisions.filter {
            $0.syscall == syscall && $0.architecture == architecture && $0.isEffective
        }
    }

    /// The action for `syscall` on `architecture` when its arguments meet no condition:
    /// its unconditional rule's action, or the default.
    public func action(
        for syscall: String, on architecture: SeccompArchitecture = .native
    ) -> SeccompAction {
        decisions(for: syscall, on: architecture).first { $0.conditions.isEmpty }?.action
            ?? defaultAction
    }
}

/// Compiles a `SeccompPolicy` with libseccomp and exports the BPF program.
///
/// Every architecture gets a context of its own, filled with the rules that exist there and
/// merged into the native one at the end, as LXC builds its compat filters. The contexts run
/// with `SCMP_FLTATR_API_SYSRAWRC` (real error codes) and `SCMP_FLTATR_CTL_NNP` off: whoever
/// installs the program decides `no_new_privs`.
public enum SeccompCompiler {
    /// Compiles `policy`. Throws `invalidPolicy` naming the rule's line for a rule libseccomp
    /// refuses, and `library` for a failing libseccomp call.
    public static func compile(_ policy: SeccompPolicy) throws(SeccompError) -> CompiledFilter {
        var build = try Build(policy: policy)
        return try build.run()
    }
}

/// libseccomp's "no such system call" (`__NR_SCMP_ERROR`).
private let unknownSyscall: Int32 = -1

/// `MNT_FORCE` from `<sys/mount.h>`.
private let mountForce: UInt64 = 1

/// One filter context, released unless merged away.
private final class Context {
    var handle: scmp_filter_ctx?
    let architecture: SeccompArchitecture

    init(_ architecture: SeccompArchitecture, defaultAction: UInt32, native: Bool)
        throws(SeccompError)
    {
        self.architecture = architecture
        guard let handle = seccomp_init(defaultAction) else {
            throw .library(call: "seccomp_init", object: architecture.name, errno: .ENOMEM)
        }
        self.handle = handle
        try attribute(SCMP_FLTATR_API_SYSRAWRC, 1, "SCMP_FLTATR_API_SYSRAWRC")
        try attribute(SCMP_FLTATR_CTL_NNP, 0, "SCMP_FLTATR_CTL_NNP")
        try attribute(SCMP_FLTATR_API_TSKIP, 1, "SCMP_FLTATR_API_TSKIP")
        guard !native else { return }
        try call(seccomp_arch_add(handle, architecture.token), "seccomp_arch_add")
        try call(seccomp_arch_remove(handle, 0), "seccomp_arch_remove")
    }

    func attribute(_ attribute: scmp_filter_attr, _ value: UInt32, _ name: String)
        throws(SeccompError)
    {
        try call(seccomp_attr_set(handle, attribute, value), "seccomp_attr_set \(name)")
    }

    func call(_ result: Int32, _ name: String) throws(SeccompError) {
        guard result < 0 else { return }
        throw .library(call: name, object: architecture.name, errno: Errno(rawValue: -result))
    }

    deinit {
        if let handle { seccomp_release(handle) }
    }
}

private struct Build {
    let policy: SeccompPolicy
    let native = SeccompArchitecture.native
    var contexts: [Context] = []
    var decisions: [SeccompDecision] = []
    var warnings: [String]

    init(policy: SeccompPolicy) throws(SeccompError) {
        self.policy = policy
        warnings = policy.warnings
        let action = policy.defaultAction.rawValue
        contexts.append(try Context(native, defaultAction: action, native: true))
        for arch in policy.extraArchitectures where arch != native {
            guard arch.token != 0 else {
                throw .invalidPolicy(
                    file: policy.file, line: nil,
                    reason: "architecture \(arch.ociName) is unknown to this libseccomp")
            }
            guard !contexts.contains(where: { $0.architecture == arch }) else { continue }
            contexts.append(try Context(arch, defaultAction: action, native: false))
        }
    }

    mutating func run() throws(SeccompError) -> CompiledFilter {
        for rule in policy.rules {
            try add(rule)
        }
        warnShadowed()

        guard let main = contexts.first?.handle else {
            throw .library(call: "seccomp_init", object: native.name, errno: .ENOMEM)
        }
        for context in contexts.dropFirst() {
            // seccomp_merge releases the merged context when it succeeds.
            let result = seccomp_merge(main, context.handle)
            if result < 0 {
                throw .library(
                    call: "seccomp_merge", object: context.architecture.name,
                    errno: Errno(rawValue: -result))
            }
            context.handle = nil
        }
        let program = try export(main, "seccomp_export_bpf", seccomp_export_bpf)
        let pfc = try export(main, "seccomp_export_pfc", seccomp_export_pfc)

        var flags = policy.flags
        flags.remove(.tsync)
        if policy.needsListener { flags.insert(.newListener) }
        return CompiledFilter(
            program: program, pfc: String(decoding: pfc, as: UTF8.self), flags: flags,
            defaultAction: policy.defaultAction, architectures: contexts.map(\.architecture),
            decisions: decisions, warnings: warnings)
    }

    /// `file:7` for a policy line, `file: syscalls[3]` for an OCI rule.
    func place(_ origin: String) -> String {
        if origin.hasPrefix("line "), let line = Int(origin.dropFirst(5)) {
            return "\(policy.file):\(line)"
        }
        return "\(policy.file): \(origin)"
    }

    func place(_ rule: SeccompRule) -> String { place(rule.origin) }

    mutating func add(_ rule: SeccompRule) throws(SeccompError) {
        // The OCI runtimes skip a rule that repeats the default action; LXC hands it to
        // libseccomp, which refuses it.
        if policy.dialect == .oci && rule.action == policy.defaultAction { return }

        if rule.isRejectForceUmount {
            let condition = ArgumentCondition(index: 1, .maskedEqual, mountForce, mask: mountForce)
            let forced = SeccompRule(
                syscall: .name("umount2"), action: .errno(UInt16(EACCES)),
                conditions: [condition], origin: rule.origin)
            for context in contexts {
                try add(forced, named: "umount2", to: context)
            }
            return
        }

        switch rule.syscall {
        case .number(let number):
            // Version 1 policies number calls natively and only filter the native arch.
            try insert(rule, number: number, name: "#\(number)", exact: false, to: contexts[0])
        case .name(let name):
            let number = seccomp_syscall_resolve_name(name)
            if number == unknownSyscall {
                let shown =
                    name.isEmpty ? "a rule without a syscall name" : "unknown syscall \(name)"
                warnings.append("\(place(rule)): \(shown); skipped on every architecture")
                return
            }
            var missing: [String] = []
            for context in contexts where !(try add(rule, named: name, to: context)) {
                missing.append(context.architecture.name)
            }
            if !missing.isEmpty {
                let arches = missing.joined(separator: ", ")
                warnings.append(
                    "\(place(rule)): syscall \(name) does not exist on \(arches); skipped there")
            }
        }
    }

    /// Adds `rule` to one architecture's context; false when the call does not exist there.
    @discardableResult
    mutating func add(_ rule: SeccompRule, named name: String, to context: Context)
        throws(SeccompError) -> Bool
    {
        let arch = context.architecture
        if seccomp_syscall_resolve_name_arch(arch.token, name) < 0 { return false }
        let number = seccomp_syscall_resolve_name(name)
        try insert(rule, number: number, name: name, exact: policy.dialect != .oci, to: context)
        return true
    }

    mutating func insert(
        _ rule: SeccompRule, number: Int32, name: String, exact: Bool, to context: Context
    ) throws(SeccompError) {
        var comparisons = rule.conditions.map { condition in
            condition.comparison == .maskedEqual
                ? scmp_arg_cmp(
                    arg: condition.index, op: scmp_compare(condition.comparison.rawValue),
                    datum_a: condition.mask, datum_b: condition.value)
                : scmp_arg_cmp(
                    arg: condition.index, op: scmp_compare(condition.comparison.rawValue),
                    datum_a: condition.value, datum_b: 0)
        }
        let count = UInt32(comparisons.count)
        let action = rule.action.rawValue
        let result = comparisons.withUnsafeMutableBufferPointer { array in
            exact
                ? seccomp_rule_add_exact_array(
                    context.handle, action, number, count, array.baseAddress)
                : seccomp_rule_add_array(context.handle, action, number, count, array.baseAddress)
        }
        if result < 0 {
            let errno = Errno(rawValue: -result)
            let reason =
                errno == .EACCES && rule.action == policy.defaultAction
                ? "rule for \(name) repeats the default action \(rule.action); "
                    + "libseccomp refuses it"
                : "libseccomp refuses the rule for \(name) on \(context.architecture): \(errno)"
            let prefix = rule.line == nil ? rule.origin + ": " : ""
            throw .invalidPolicy(file: policy.file, line: rule.line, reason: prefix + reason)
        }
        let archNumber =
            number >= 0 && context.architecture == native
            ? number : seccomp_syscall_resolve_name_arch(context.architecture.token, name)
        decisions.append(
            SeccompDecision(
                syscall: name, number: archNumber, architecture: context.architecture,
                action: rule.action, conditions: rule.conditions, origin: rule.origin))
    }

    /// libseccomp lets the first rule without conditions decide a call on its own: every
    /// other rule for that call on that architecture, before or after it, can never match.
    /// Those are marked and reported once per rule.
    mutating func warnShadowed() {
        var deciding: [String: Int] = [:]
        for (index, decision) in decisions.enumerated() where decision.conditions.isEmpty {
            let key = "\(decision.architecture.name) \(decision.syscall)"
            if deciding[key] == nil { deciding[key] = index }
        }
        var reported: Set<String> = []
        for index in decisions.indices {
            let decision = decisions[index]
            let key = "\(decision.architecture.name) \(decision.syscall)"
            guard let winner = deciding[key], winner != index else { continue }
            decisions[index].isEffective = false
            let id = "\(decision.origin) \(decision.syscall)"
            guard reported.insert(id).inserted else { continue }
            let other = decisions[winner].origin
            let why =
                winner < index
                ? "\(other) decides it without conditions"
                : "\(other) has no conditions, and libseccomp lets it decide the call"
            warnings.append(
                "\(place(decision.origin)): rule for \(decision.syscall) can never match: \(why)")
        }
    }

    /// Writes the filter into a memfd with `body` and reads it back.
    func export(
        _ context: scmp_filter_ctx, _ call: String,
        _ body: (scmp_filter_ctx?, Int32) -> Int32
    ) throws(SeccompError) -> [UInt8] {
        do {
            let memory = try ProcessControl.memfd("seccomp-export")
            let result = body(context, memory.rawValue)
            if result < 0 {
                throw SeccompError.library(
                    call: call, object: native.name, errno: Errno(rawValue: -result))
            }
            _ = try check(lseek(memory.rawValue, 0, SEEK_SET), "lseek", "seccomp export memfd")
            return try memory.readAll()
        } catch let error as SeccompError {
            throw error
        } catch let error as SyscallError {
            throw .system(error)
        } catch {
            throw .library(call: call, object: native.name, errno: .EIO)
        }
    }
}

extension SeccompRule {
    /// The line number in `origin` (`line 7`), nil for OCI rules.
    var line: Int? {
        origin.hasPrefix("line ") ? Int(origin.dropFirst(5)) : nil
    }
}
