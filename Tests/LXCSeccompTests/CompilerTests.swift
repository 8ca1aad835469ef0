import Glibc
import LXCSeccomp
import LXCSystem
import Testing

@Suite struct CompilerTests {
    @Test func compilesLXCsCommonPolicyForThreeArchitectures() throws {
        let policy = try LXCPolicyParser.load(contentsOf: fixture("lxc-common.seccomp"))
        let filter = try SeccompCompiler.compile(policy)
        #expect(filter.architectures == [.x86_64, .x86, .x32])
        #expect(filter.defaultAction == .allow)
        #expect(filter.flags == [])
        #expect(filter.program.count == filter.instructionCount * 8)
        #expect(filter.instructionCount > 10)
        #expect(filter.action(for: "kexec_load") == .errno(1))
        #expect(filter.action(for: "kexec_load", on: .x86) == .errno(1))
        #expect(filter.decisions(for: "kexec_load", on: .x86).first?.number == 283)
        #expect(filter.action(for: "read") == .allow)
        let umount = try #require(filter.decisions(for: "umount2").first)
        #expect(umount.action == .errno(13))
        #expect(umount.conditions == [ArgumentCondition(index: 1, .maskedEqual, 1, mask: 1)])
        #expect(filter.pfc.contains("if ($syscall == 246)"))
        #expect(filter.warnings.isEmpty)
    }

    @Test func theProgramStartsByCheckingTheArchitecture() throws {
        let filter = try SeccompCompiler.compile(try parseLXC("2\ndenylist\nmkdir errno 1\n"))
        // ld [4] (seccomp_data.arch): BPF_LD|BPF_W|BPF_ABS = 0x20, k = 4.
        #expect(Array(filter.program[0..<8]) == [0x20, 0, 0, 0, 4, 0, 0, 0])
    }

    @Test func unknownSyscallsAreWarningsPerArchitecture() throws {
        let text = "2\ndenylist\nnosuchcall errno 1\nsocketcall errno 2\nwaitpid errno 3\n"
        let filter = try SeccompCompiler.compile(try parseLXC(text))
        #expect(
            filter.warnings == [
                "test.seccomp:3: unknown syscall nosuchcall; skipped on every architecture",
                "test.seccomp:4: syscall socketcall does not exist on x86_64, x32; skipped there",
                "test.seccomp:5: syscall waitpid does not exist on x86_64, x32; skipped there",
            ])
        #expect(filter.action(for: "socketcall", on: .x86) == .errno(2))
        #expect(filter.decisions(for: "socketcall").isEmpty)
        #expect(filter.action(for: "waitpid", on: .x86) == .errno(3))
    }

    @Test func rulesAnUnconditionalRuleOverridesAreReported() throws {
        let text = """
            2
            denylist
            mkdir errno 2 [1,0x10,==]
            mkdir errno 5
            rmdir errno 5
            rmdir errno 2 [1,0x10,==]
            rmdir kill
            """
        let filter = try SeccompCompiler.compile(try parseLXC(text))
        #expect(
            filter.warnings == [
                "test.seccomp:3: rule for mkdir can never match: line 4 has no conditions, and "
                    + "libseccomp lets it decide the call",
                "test.seccomp:6: rule for rmdir can never match: line 5 decides it without "
                    + "conditions",
                "test.seccomp:7: rule for rmdir can never match: line 5 decides it without "
                    + "conditions",
            ])
        #expect(filter.action(for: "mkdir") == .errno(5))
        #expect(filter.action(for: "rmdir") == .errno(5))
        #expect(filter.pfc.contains("action ERRNO(5)"))
        #expect(!filter.pfc.contains("action ERRNO(2)"))
    }

    @Test func aRuleRepeatingTheDefaultIsRefusedAsLXCDoes() {
        #expect(
            throws: SeccompError.invalidPolicy(
                file: "test.seccomp", line: 4,
                reason: "rule for mkdir repeats the default action allow; libseccomp refuses it")
        ) {
            try SeccompCompiler.compile(try parseLXC("2\ndenylist\nrmdir\nmkdir allow\n"))
        }
    }

    @Test func notifyRulesAskForAListener() throws {
        let filter = try SeccompCompiler.compile(try parseLXC("2\ndenylist\nmkdir notify\n"))
        #expect(filter.needsListener)
        #expect(filter.flags == [.newListener])
    }

    @Test func versionOneFiltersOnlyTheNativeArchitecture() throws {
        let filter = try SeccompCompiler.compile(try parseLXC("1\nallowlist\n0\n1\n231\n"))
        #expect(filter.architectures == [.x86_64])
        #expect(filter.defaultAction == .killThread)
        #expect(filter.decisions.map(\.number) == [0, 1, 231])
        #expect(filter.action(for: "#1") == .allow)
    }
}

@Suite struct OCIPolicyTests {
    static let capabilities: Set<String> = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ]

    @Test func compilesTheContainersDefaultProfile() throws {
        let path = fixture("containers-seccomp.json")
        let profile = try OCISeccompPolicy.load(contentsOf: path)
        let policy = try profile.policy(
            file: path, capabilities: Self.capabilities, kernel: (6, 18), native: .x86_64)
        #expect(policy.extraArchitectures == [.x86, .x32])
        let filter = try SeccompCompiler.compile(policy)
        #expect(filter.defaultAction == .errno(38))
        #expect(filter.action(for: "read") == .allow)
        #expect(filter.action(for: "clone3") == .allow)
        #expect(filter.action(for: "chroot") == .allow)
        #expect(filter.action(for: "bpf") == .errno(1))
        #expect(filter.action(for: "open_by_handle_at") == .errno(1))
        #expect(filter.action(for: "kexec_load") == .errno(1))
        #expect(filter.action(for: "arch_prctl") == .allow)
        #expect(filter.action(for: "nosuchcall_never") == .errno(38))
        let personality = filter.decisions(for: "personality").map(\.conditions)
        #expect(personality.count == 5)
        #expect(personality.first == [ArgumentCondition(index: 0, .equal, 0)])
        let socket = filter.decisions(for: "socket")
        #expect(socket.first?.action == .errno(22))
        #expect(
            socket.first?.conditions == [
                ArgumentCondition(index: 0, .equal, 16), ArgumentCondition(index: 2, .equal, 9),
            ])
        // With CAP_SYS_ADMIN in the bounding set bpf is allowed instead.
        let admin = try SeccompCompiler.compile(
            profile.policy(
                file: path, capabilities: Self.capabilities.union(["CAP_SYS_ADMIN"]),
                kernel: (6, 18), native: .x86_64))
        #expect(admin.action(for: "bpf") == .allow)
    }

    @Test func ociFieldsMapAsRuncMapsThem() throws {
        let json = """
            {"linux": {"seccomp": {
              "defaultAction": "SCMP_ACT_ALLOW",
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
              "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
              "listenerPath": "/run/seccomp.sock", "listenerMetadata": "meta",
              "syscalls": [
                {"names": ["mkdir", "nosuchcall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["openat"], "action": "SCMP_ACT_NOTIFY"},
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 1, "value": 4095, "valueTwo": 511, "op": "SCMP_CMP_MASKED_EQ"},
                          {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["sync"], "action": "SCMP_ACT_TRACE"},
                {"names": ["ptrace"], "action": "SCMP_ACT_LOG"}
              ]}}}
            """
        let policy = try OCISeccompPolicy.decode(Array(json.utf8), file: "config.json")
            .policy(file: "config.json", native: .x86_64)
        #expect(policy.flags == [.log, .tsync])
        #expect(policy.listenerPath == "/run/seccomp.sock")
        #expect(policy.extraArchitectures == [.x86])
        let filter = try SeccompCompiler.compile(policy)
        #expect(filter.flags == [.log, .newListener])
        #expect(filter.architectures == [.x86_64, .x86])
        #expect(filter.action(for: "mkdir") == .errno(13))
        #expect(filter.action(for: "getpid") == .allow)
        #expect(filter.decisions(for: "getpid").isEmpty)
        #expect(filter.action(for: "uname") == .killProcess)
        #expect(filter.action(for: "openat") == .notify)
        #expect(filter.action(for: "sync") == .trace(1))
        #expect(filter.action(for: "ptrace") == .log)
        #expect(
            filter.decisions(for: "chmod").map(\.conditions) == [
                [ArgumentCondition(index: 1, .maskedEqual, 511, mask: 4095)],
                [ArgumentCondition(index: 1, .equal, 0)],
            ])
        #expect(
            filter.warnings == [
                "config.json: syscalls[0]: unknown syscall nosuchcall; skipped on every "
                    + "architecture"
            ])
    }

    /// A document with one rule for `a` that kills, plus `extra` members.
    func rule(_ extra: String) -> String {
        #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "#
            + #""SCMP_ACT_KILL", \#(extra)}]}"#
    }

    @Test func badOCIFieldsNameTheirPath() {
        let cases: [(String, String)] = [
            (
                #"{"defaultAction": "SCMP_ACT_NOPE"}"#,
                "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\""
            ),
            (
                #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}"#,
                "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_Z80\""
            ),
            (
                #"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"]}"#,
                "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_X\""
            ),
            (
                rule(#""args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]"#),
                "linux.seccomp.syscalls[0].args[0]: argument index 6 is not 0 to 5"
            ),
            (
                rule(#""args": [{"index": 0, "value": 1, "op": "=="}]"#),
                "linux.seccomp.syscalls[0].args[0]: unknown operator \"==\""
            ),
            (
                rule(#""errnoRet": 1"#),
                "linux.seccomp.syscalls[0].action: errnoRet only goes with SCMP_ACT_ERRNO and "
                    + "SCMP_ACT_TRACE"
            ),
        ]
        for (json, reason) in cases {
            do {
                _ = try OCISeccompPolicy.decode(Array(json.utf8), file: "s.json")
                    .policy(file: "s.json", native: .x86_64)
                Issue.record("accepted \(json)")
            } catch {
                #expect(error.description == "s.json: " + reason)
            }
        }
        #expect(
            throws: SeccompError.invalidPolicy(
                file: "s.json", line: nil, reason: "syscalls[0]: missing action")
        ) {
            try OCISeccompPolicy.decode(
                Array(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"]}]}"#.utf8),
                file: "s.json")
        }
    }
}

@Suite struct CommandLineTests {
    /// Runs `swiftlxc seccomp ARGUMENTS` with stdout and stderr captured apart.
    func run(_ arguments: [String]) throws -> (out: String, err: String, TerminationStatus) {
        let out = try Pipe()
        let err = try Pipe()
        let child = try Spawn.start(
            SpawnRequest(
                path: swiftlxc, arguments: ["swiftlxc", "seccomp"] + arguments,
                fileMap: [-1, out.writeEnd.rawValue, err.writeEnd.rawValue]))
        try out.writeEnd.close()
        try err.writeEnd.close()
        let output = String(decoding: try out.readEnd.readAll(), as: UTF8.self)
        let errors = String(decoding: try err.readEnd.readAll(), as: UTF8.self)
        return (output, errors, try child.wait())
    }

    @Test func compilePrintsTheDecisionTableAndWarnings() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let policy = "\(dir)/p.seccomp"
        try FileDescriptor.open(policy, O_WRONLY | O_CREAT)
            .writeAll("2\ndenylist\nmkdir errno 1\nnosuchcall\n")
        let (out, err, status) = try run(["compile", policy, "--bpf", "\(dir)/p.bpf", "--pfc"])
        #expect(status == .exited(0))
        let lines = out.split(separator: "\n")
        #expect(lines.first == "SYSCALL  ARCH            NR          ACTION   CONDITIONS  FROM")
        #expect(
            lines.dropFirst().first
                == "mkdir    x86_64          83          errno 1  -           line 3")
        #expect(out.contains("*        x86_64,x86,x32  -           allow    -           default"))
        #expect(out.contains("# pseudo filter code start"))
        #expect(
            err
                == "warning: \(policy):4: unknown syscall nosuchcall; skipped on every "
                + "architecture\n")
        let program = try FileContents.read("\(dir)/p.bpf")
        #expect(
            program
                == (try SeccompCompiler.compile(parseLXC("2\ndenylist\nmkdir errno 1\n"))).program)
    }

    @Test func compileRefusesABadPolicyWithItsLine() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let policy = "\(dir)/bad.seccomp"
        try FileDescriptor.open(policy, O_WRONLY | O_CREAT).writeAll("2\ndenylist\nmkdir frob\n")
        let (out, err, status) = try run(["compile", policy])
        #expect(status == .exited(1))
        #expect(out.isEmpty)
        #expect(err == "swiftlxc seccomp: \(policy):3: unknown action \"frob\" for mkdir\n")
    }
}
