import CSeccomp
import Glibc

/// A system call ABI a filter can cover, with its names in libseccomp, OCI, LXC and Go.
public struct SeccompArchitecture: Hashable, Sendable, CustomStringConvertible {
    /// libseccomp's name (`x86_64`, `x86`, `aarch64`), also what `--pfc` prints.
    public let name: String
    /// The OCI spelling (`SCMP_ARCH_X86_64`).
    public let ociName: String
    /// LXC's section names (`[x86_64]`, `[X86_64]`), lowercase first.
    public let lxcSections: [String]
    /// Go's `GOARCH` spelling, which the containers default profile uses in `includes`.
    public let goName: String

    /// The `AUDIT_ARCH_*` token the kernel reports in `seccomp_data.arch`; 0 when this
    /// libseccomp does not know the architecture.
    public var token: UInt32 { seccomp_arch_resolve_name(name) }

    public var description: String { name }

    public static let x86 = Self("x86", "SCMP_ARCH_X86", ["x86", "X86"], "386")
    public static let x86_64 = Self("x86_64", "SCMP_ARCH_X86_64", ["x86_64", "X86_64"], "amd64")
    public static let x32 = Self("x32", "SCMP_ARCH_X32", ["x32", "X32"], "x32")
    public static let arm = Self("arm", "SCMP_ARCH_ARM", ["arm", "ARM"], "arm")
    public static let aarch64 = Self("aarch64", "SCMP_ARCH_AARCH64", ["arm64", "ARM64"], "arm64")
    public static let mips = Self("mips", "SCMP_ARCH_MIPS", ["mips", "MIPS"], "mips")
    public static let mips64 = Self("mips64", "SCMP_ARCH_MIPS64", ["mips64", "MIPS64"], "mips64")
    public static let mips64n32 = Self(
        "mips64n32", "SCMP_ARCH_MIPS64N32", ["mips64n32", "MIPS64N32"], "mips64n32")
    public static let mipsel = Self("mipsel", "SCMP_ARCH_MIPSEL", ["mipsel", "MIPSEL"], "mipsle")
    public static let mipsel64 = Self(
        "mipsel64", "SCMP_ARCH_MIPSEL64", ["mipsel64", "MIPSEL64"], "mips64le")
    public static let mipsel64n32 = Self(
        "mipsel64n32", "SCMP_ARCH_MIPSEL64N32", ["mipsel64n32", "MIPSEL64N32"], "mips64len32")
    public static let ppc = Self("ppc", "SCMP_ARCH_PPC", ["ppc", "PPC"], "ppc")
    public static let ppc64 = Self("ppc64", "SCMP_ARCH_PPC64", ["ppc64", "PPC64"], "ppc64")
    public static let ppc64le = Self(
        "ppc64le", "SCMP_ARCH_PPC64LE", ["ppc64le", "PPC64LE"], "ppc64le")
    public static let s390 = Self("s390", "SCMP_ARCH_S390", ["s390", "S390"], "s390")
    public static let s390x = Self("s390x", "SCMP_ARCH_S390X", ["s390x", "S390X"], "s390x")
    public static let parisc = Self("parisc", "SCMP_ARCH_PARISC", [], "parisc")
    public static let parisc64 = Self("parisc64", "SCMP_ARCH_PARISC64", [], "parisc64")
    public static let riscv64 = Self("riscv64", "SCMP_ARCH_RISCV64", [], "riscv64")

    /// Every architecture SwiftLXC names, LXC's section order first.
    public static let all: [SeccompArchitecture] = [
        .x86, .x32, .x86_64, .arm, .aarch64, .ppc64le, .ppc64, .ppc, .mips64, .mips64n32, .mips,
        .mipsel64, .mipsel64n32, .mipsel, .s390x, .s390, .parisc, .parisc64, .riscv64,
    ]

    private init(_ name: String, _ oci: String, _ lxc: [String], _ go: String) {
        self.name = name
        ociName = oci
        lxcSections = lxc
        goName = go
    }

    /// The architecture of this process, as libseccomp sees it.
    public static var native: SeccompArchitecture {
        let token = seccomp_arch_native()
        return all.first { $0.token == token } ?? .x86_64
    }

    /// The architecture with this OCI name (`SCMP_ARCH_X86`), or nil.
    public static func oci(_ name: String) -> SeccompArchitecture? {
        all.first { $0.ociName == name }
    }

    /// The compat ABIs LXC adds to a version 2 policy on this native architecture: i386 and
    /// x32 on x86_64, arm on arm64, ppc on ppc64, the o32 and n32 ABIs on mips64.
    public static func lxcCompat(for native: SeccompArchitecture) -> [SeccompArchitecture] {
        switch native {
        case .x86_64: return [.x86, .x32]
        case .aarch64: return [.arm]
        case .ppc64: return [.ppc]
        case .mips64: return [.mips, .mips64n32]
        case .mipsel64: return [.mipsel, .mipsel64n32]
        default: return []
        }
    }

    /// Whether LXC applies a `[section]` of this architecture's rules on `native`: its own
    /// section, and the sections of the compat ABIs it runs.
    func lxcSectionApplies(on native: SeccompArchitecture) -> Bool {
        self == native || Self.lxcCompat(for: native).contains(self)
    }
}
