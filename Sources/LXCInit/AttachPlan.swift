import LXCCapabilities
import LXCSystem

/// What the attach helper does in a running container (LXC's `lxc_attach_options_t`, with
/// every default already resolved on the host): the namespaces to join, and the identity,
/// capabilities, environment and directory of the command it starts there.
public struct AttachPlan: Sendable, Equatable {
    /// The namespaces to join; those the container shares with the helper are skipped.
    public var namespaces: NamespaceSet
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    /// Supplementary groups; nil clears them where the user namespace allows it.
    public var groups: [UInt32]?
    /// The working directory; when it cannot be entered, `/` (LXC warns and carries on)
    /// unless `cwdRequired`.
    public var cwd = "/"
    public var cwdRequired = false
    /// The whole environment of the command.
    public var environment: [String] = []
    /// The bounding set to keep (`LXC_ATTACH_DROP_CAPABILITIES`); nil keeps it as it is.
    public var bounding: CapabilitySet?
    /// `LXC_ATTACH_SET_PERSONALITY` with the container's `lxc.arch`.
    public var personality: UInt?
    public var noNewPrivileges = false
    /// The container's seccomp program (`struct sock_filter` bytes), empty for none.
    public var seccompProgram: [UInt8] = []
    public var seccompFlags: UInt32 = 0
    /// runc's exec terminal: the command opens a pty of the container's own devpts and
    /// makes it its stdio and controlling terminal; the controller comes back as
    /// `SyncMessage.terminal`.
    public var terminal = false
    /// The terminal's size (OCI `consoleSize`); 0 rows leaves the kernel's default.
    public var terminalRows: UInt16 = 0
    public var terminalColumns: UInt16 = 0
    public var arguments: [String]

    public init(namespaces: NamespaceSet, arguments: [String]) {
        self.namespaces = namespaces
        self.arguments = arguments
    }

    public func encoded() -> [UInt8] {
        var w = WireWriter()
        w.write(UInt32(0x4154_5443))  // "ATTC": a stage plan is never mistaken for one
        w.write(namespaces.rawValue)
        w.write(uid)
        w.write(gid)
        w.write(groups != nil)
        w.write(groups ?? []) { $0.write($1) }
        w.write(cwd)
        w.write(cwdRequired)
        w.write(environment)
        w.write(bounding != nil)
        w.write(bounding?.mask ?? 0)
        w.write(personality != nil)
        w.write(personality ?? 0)
        w.write(noNewPrivileges)
        w.append(bytes: seccompProgram)
        w.write(seccompFlags)
        w.write(terminal)
        w.write(UInt32(terminalRows))
        w.write(UInt32(terminalColumns))
        w.write(arguments)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        guard try r.readUInt32() == 0x4154_5443 else { throw WireError("not an attach plan") }
        self.init(namespaces: NamespaceSet(rawValue: try r.readInt32()), arguments: [])
        uid = try r.readUInt32()
        gid = try r.readUInt32()
        let hasGroups = try r.readBool()
        let list = try r.readArray { r throws(WireError) in try r.readUInt32() }
        groups = hasGroups ? list : nil
        cwd = try r.readString()
        cwdRequired = try r.readBool()
        environment = try r.readStrings()
        let hasBounding = try r.readBool()
        let mask = try r.readUInt64()
        bounding = hasBounding ? CapabilitySet(mask: mask) : nil
        let hasPersonality = try r.readBool()
        let persona = try r.readUInt()
        personality = hasPersonality ? persona : nil
        noNewPrivileges = try r.readBool()
        seccompProgram = try r.readBytes()
        seccompFlags = try r.readUInt32()
        terminal = try r.readBool()
        terminalRows = UInt16(truncatingIfNeeded: try r.readUInt32())
        terminalColumns = UInt16(truncatingIfNeeded: try r.readUInt32())
        arguments = try r.readStrings()
        guard r.isAtEnd else { throw WireError("trailing bytes") }
    }
}

/// The attach helper's descriptors: stdio, the sync socket at 3, the container init's
/// pidfd at 4.
public let attachInitPIDFDDescriptor: Int32 = 4

/// The `argv[0]` that selects the attach mode of `swiftlxc-init`.
public let attachModeArgument0 = "swiftlxc-attach"
