import CShim
import Glibc
import LXCSystem

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn` (8 bytes).
public struct BPFInstruction: Equatable, Sendable {
    public var code: UInt8
    /// Destination register in the low four bits, source in the high four (little endian).
    public var registers: UInt8
    public var offset: Int16
    public var immediate: Int32

    public init(
        code: UInt8, destination: UInt8 = 0, source: UInt8 = 0, offset: Int16 = 0,
        immediate: Int32 = 0
    ) {
        self.code = code
        self.registers = (source << 4) | (destination & 0x0f)
        self.offset = offset
        self.immediate = immediate
    }

    /// The instruction's 8 bytes in the machine's (little-endian) order.
    public var bytes: [UInt8] {
        let offsetBits = UInt16(bitPattern: offset)
        let immediateBits = UInt32(bitPattern: immediate)
        return [
            code, registers, UInt8(offsetBits & 0xff), UInt8(offsetBits >> 8),
            UInt8(immediateBits & 0xff), UInt8((immediateBits >> 8) & 0xff),
            UInt8((immediateBits >> 16) & 0xff), UInt8(immediateBits >> 24),
        ]
    }
}

/// A cgroup2 device policy as a `BPF_PROG_TYPE_CGROUP_DEVICE` program, built from rules
/// and attached with `bpf(2)` (cgroup2 has no devices controller files).
///
/// The program reads the access from its context (`struct bpf_cgroup_dev_ctx`: the access
/// type with the device kind in the low 16 bits and the access bits above them, then major
/// and minor) and checks the rules from the last to the first: the first rule that matches
/// decides, so a later rule overrides an earlier one. Nothing matching means deny. An allow
/// rule matches when it allows every requested access bit; a deny rule when it denies any.
public enum DeviceProgram {
    // Kernel UAPI values from <linux/bpf.h>, which the Swift Glibc module does not carry.
    static let BPF_PROG_LOAD: Int = 5
    static let BPF_PROG_ATTACH: Int = 8
    static let BPF_PROG_DETACH: Int = 9
    static let BPF_PROG_TYPE_CGROUP_DEVICE: UInt32 = 15
    static let BPF_CGROUP_DEVICE: UInt32 = 6
    static let BPF_F_ALLOW_MULTI: UInt32 = 1 << 1
    static let BPF_DEVCG_ACC_MKNOD: Int32 = 1
    static let BPF_DEVCG_ACC_READ: Int32 = 2
    static let BPF_DEVCG_ACC_WRITE: Int32 = 4
    static let BPF_DEVCG_DEV_BLOCK: Int32 = 1
    static let BPF_DEVCG_DEV_CHAR: Int32 = 2

    // Instruction classes and operations (<linux/bpf_common.h>, <linux/bpf.h>).
    static let LDX_MEM_W: UInt8 = 0x61  // BPF_LDX | BPF_MEM | BPF_W
    static let ALU64_MOV_K: UInt8 = 0xb7  // BPF_ALU64 | BPF_MOV | BPF_K
    static let ALU64_AND_K: UInt8 = 0x57  // BPF_ALU64 | BPF_AND | BPF_K
    static let ALU64_RSH_K: UInt8 = 0x77  // BPF_ALU64 | BPF_RSH | BPF_K
    static let JMP_JA: UInt8 = 0x05  // BPF_JMP | BPF_JA
    static let JMP_JNE_K: UInt8 = 0x55  // BPF_JMP | BPF_JNE | BPF_K
    static let JMP_JSET_K: UInt8 = 0x45  // BPF_JMP | BPF_JSET | BPF_K
    static let JMP_EXIT: UInt8 = 0x95  // BPF_JMP | BPF_EXIT

    /// The program for `rules`, rules checked last to first.
    public static func instructions(for rules: [DeviceRule]) -> [BPFInstruction] {
        // r2 = kind, r3 = requested access bits, r4 = major, r5 = minor.
        var program: [BPFInstruction] = [
            BPFInstruction(code: LDX_MEM_W, destination: 2, source: 1, offset: 0),
            BPFInstruction(code: ALU64_AND_K, destination: 2, immediate: 0xffff),
            BPFInstruction(code: LDX_MEM_W, destination: 3, source: 1, offset: 0),
            BPFInstruction(code: ALU64_RSH_K, destination: 3, immediate: 16),
            BPFInstruction(code: LDX_MEM_W, destination: 4, source: 1, offset: 4),
            BPFInstruction(code: LDX_MEM_W, destination: 5, source: 1, offset: 8),
        ]
        for rule in rules.reversed() {
            let block = block(for: rule)
            program += block
            // A rule that matches everything decides every access: the verifier refuses the
            // unreachable rules before it, so they are left out.
            if block.count == 2 { return program }
        }
        program += [
            BPFInstruction(code: ALU64_MOV_K, destination: 0, immediate: 0),
            BPFInstruction(code: JMP_EXIT),
        ]
        return program
    }

    /// One rule: a run of tests that each jump past the block on a mismatch, then the
    /// verdict. The jump offsets count from the instruction after the jump.
    static func block(for rule: DeviceRule) -> [BPFInstruction] {
        // Each test is built with its jump target as "the end of the block" and patched once
        // the block's length is known.
        var tests: [(BPFInstruction, jumpsToEnd: Bool)] = []
        switch rule.kind {
        case .all: break
        case .block:
            tests.append(
                (
                    BPFInstruction(code: JMP_JNE_K, destination: 2, immediate: BPF_DEVCG_DEV_BLOCK),
                    true
                ))
        case .character:
            tests.append(
                (
                    BPFInstruction(code: JMP_JNE_K, destination: 2, immediate: BPF_DEVCG_DEV_CHAR),
                    true
                ))
        }
        let access = accessBits(rule.access)
        let all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE
        if rule.allow {
            // Skip unless every requested bit is allowed: any bit outside the rule skips.
            if access != all {
                tests.append(
                    (
                        BPFInstruction(code: JMP_JSET_K, destination: 3, immediate: all & ~access),
                        true
                    ))
            }
        } else if access != all {
            // Skip unless some requested bit is denied.
            tests.append(
                (
                    BPFInstruction(code: JMP_JSET_K, destination: 3, offset: 1, immediate: access),
                    false
                ))
            tests.append((BPFInstruction(code: JMP_JA), true))
        }
        if let major = rule.major {
            tests.append(
                (BPFInstruction(code: JMP_JNE_K, destination: 4, immediate: Int32(major)), true))
        }
        if let minor = rule.minor {
            tests.append(
                (BPFInstruction(code: JMP_JNE_K, destination: 5, immediate: Int32(minor)), true))
        }
        let verdict = [
            BPFInstruction(code: ALU64_MOV_K, destination: 0, immediate: rule.allow ? 1 : 0),
            BPFInstruction(code: JMP_EXIT),
        ]
        let length = tests.count + verdict.count
        var block: [BPFInstruction] = []
        for (position, test) in tests.enumerated() {
            var instruction = test.0
            if test.jumpsToEnd { instruction.offset = Int16(length - position - 1) }
            block.append(instruction)
        }
        return block + verdict
    }

    static func accessBits(_ access: String) -> Int32 {
        var bits: Int32 = 0
        if access.contains("m") { bits |= BPF_DEVCG_ACC_MKNOD }
        if access.contains("r") { bits |= BPF_DEVCG_ACC_READ }
        if access.contains("w") { bits |= BPF_DEVCG_ACC_WRITE }
        return bits
    }

    /// `bpf(BPF_PROG_LOAD)` of the program for `rules`. On a refusal the verifier's log is
    /// fetched with a second load and its last lines carried in the error.
    public static func load(_ rules: [DeviceRule]) throws(CgroupError) -> FileDescriptor {
        let code = instructions(for: rules).flatMap(\.bytes)
        let first = loadProgram(code, log: nil)
        if first.fd >= 0 { return FileDescriptor(owning: Int32(first.fd)) }

        let log = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { log.deallocate() }
        log.initializeMemory(as: UInt8.self, repeating: 0)
        let second = loadProgram(code, log: log)
        if second.fd >= 0 { return FileDescriptor(owning: Int32(second.fd)) }
        let text = String(decoding: log.prefix { $0 != 0 }, as: UTF8.self)
        let tail = text.split(separator: "\n").suffix(3).joined(separator: "; ")
        throw .bpf(call: "BPF_PROG_LOAD", errno: first.errno, log: tail)
    }

    private static func loadProgram(_ code: [UInt8], log: UnsafeMutableRawBufferPointer?)
        -> (fd: Int, errno: Errno)
    {
        // Device programs call no GPL-only helper, so any license string is accepted.
        let license = Array("Apache-2.0".utf8CString)
        // union bpf_attr for BPF_PROG_LOAD, up to expected_attach_type at offset 68.
        var attr = BPFAttribute(size: 72)
        attr.put32(BPF_PROG_TYPE_CGROUP_DEVICE, at: 0)
        attr.put32(UInt32(code.count / 8), at: 4)
        attr.put32(BPF_CGROUP_DEVICE, at: 68)
        if let log {
            attr.put32(1, at: 24)
            attr.put32(UInt32(log.count), at: 28)
            attr.put64(UInt64(UInt(bitPattern: log.baseAddress)), at: 32)
        }
        // The kernel reads the instructions and the license during the call only; both stay
        // alive until it returns.
        let fd = code.withUnsafeBytes { code in
            license.withUnsafeBufferPointer { license in
                attr.put64(UInt64(UInt(bitPattern: code.baseAddress)), at: 8)
                attr.put64(UInt64(UInt(bitPattern: license.baseAddress)), at: 16)
                return attr.call(BPF_PROG_LOAD)
            }
        }
        return (fd, fd < 0 ? Errno.current : Errno(rawValue: 0))
    }

    /// `bpf(BPF_PROG_ATTACH)` of `program` to the cgroup2 directory `cgroup` with
    /// `BPF_F_ALLOW_MULTI`, so programs of parent cgroups still apply too.
    public static func attach(
        _ program: borrowing FileDescriptor, to cgroup: borrowing FileDescriptor, path: String
    ) throws(CgroupError) {
        let result = attachCall(
            BPF_PROG_ATTACH, program: program.rawValue, cgroup: cgroup.rawValue,
            flags: BPF_F_ALLOW_MULTI)
        if result < 0 {
            throw .bpf(call: "BPF_PROG_ATTACH to \(path)", errno: Errno.current, log: "")
        }
    }

    /// `bpf(BPF_PROG_DETACH)` of `program` from `cgroup`.
    public static func detach(
        _ program: borrowing FileDescriptor, from cgroup: borrowing FileDescriptor, path: String
    ) throws(CgroupError) {
        let result = attachCall(
            BPF_PROG_DETACH, program: program.rawValue, cgroup: cgroup.rawValue, flags: 0)
        if result < 0 {
            throw .bpf(call: "BPF_PROG_DETACH from \(path)", errno: Errno.current, log: "")
        }
    }

    private static func attachCall(_ command: Int, program: Int32, cgroup: Int32, flags: UInt32)
        -> Int
    {
        // union bpf_attr for BPF_PROG_ATTACH/DETACH: target_fd, attach_bpf_fd, attach_type,
        // attach_flags, 32 bits each.
        var attr = BPFAttribute(size: 16)
        attr.put32(UInt32(bitPattern: cgroup), at: 0)
        attr.put32(UInt32(bitPattern: program), at: 4)
        attr.put32(BPF_CGROUP_DEVICE, at: 8)
        attr.put32(flags, at: 12)
        return attr.call(command)
    }
}

/// The leading bytes of a `union bpf_attr`, filled field by field at the kernel's offsets.
/// The kernel accepts a shorter union than its own and treats the rest as zero.
struct BPFAttribute {
    var bytes: [UInt8]

    init(size: Int) {
        bytes = [UInt8](repeating: 0, count: size)
    }

    mutating func put32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }

    mutating func put64(_ value: UInt64, at offset: Int) {
        for index in 0..<8 {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }

    /// `bpf(command, &attr, size)`; returns the result and leaves errno for the caller.
    func call(_ command: Int) -> Int {
        bytes.withUnsafeBytes { attr in
            shim_syscall6(
                Int(SYS_bpf), command, Int(bitPattern: attr.baseAddress), attr.count, 0, 0, 0)
        }
    }
}
