import LXCSeccomp
import Testing

@Suite struct LXCPolicyParserTests {
    @Test func versionOneIsAnAllowListOfNumbers() throws {
        let policy = try parseLXC("1\nallowlist\n0\n1\n60\n")
        #expect(policy.dialect == .lxcVersion1)
        #expect(policy.defaultAction == .killThread)
        #expect(policy.extraArchitectures.isEmpty)
        #expect(policy.rules.map(\.syscall) == [.number(0), .number(1), .number(60)])
        #expect(policy.rules.allSatisfy { $0.action == .allow })
        #expect(policy.rules.map(\.origin) == ["line 3", "line 4", "line 5"])
        #expect(try parseLXC("1\nwhitelist\n2\n").rules.count == 1)
    }

    @Test func versionOneRefusesDenylistsAndNonNumbers() {
        #expect(
            parseError("1\ndenylist\n0\n")?.description
                == "test.seccomp:2: version 1 policies must be allowlists, found \"denylist\"")
        #expect(
            parseError("1\nallowlist\n0\nread\n")?.description
                == "test.seccomp:4: expected a system call number, found \"read\"")
    }

    @Test func denylistDefaultsToAllowAndItsRulesToKill() throws {
        let policy = try parseLXC("2\ndenylist\nmknod\nmkdir errno 1\n")
        #expect(policy.dialect == .lxcVersion2)
        #expect(policy.defaultAction == .allow)
        #expect(policy.extraArchitectures == [.x86, .x32])
        #expect(policy.rules.map(\.action) == [.killThread, .errno(1)])
        #expect(policy.rules.map(\.syscall) == [.name("mknod"), .name("mkdir")])
    }

    @Test func allowlistDefaultsToKillAndItsRulesToAllow() throws {
        let policy = try parseLXC("2\nallowlist\nread\nwrite trap\n")
        #expect(policy.defaultAction == .killThread)
        #expect(policy.rules.map(\.action) == [.allow, .trap])
    }

    @Test func oldSpellingsAndExplicitDefaults() throws {
        #expect(try parseLXC("2\nblacklist\n").defaultAction == .allow)
        #expect(try parseLXC("2\nwhitelist\n").defaultAction == .killThread)
        #expect(try parseLXC("2\nallowlist errno 38\n").defaultAction == .errno(38))
        #expect(try parseLXC("2\ndenylist kill\n").defaultAction == .killThread)
        #expect(try parseLXC("2\ndenylist trap\n").defaultAction == .trap)
        #expect(try parseLXC("2\ndenylist notify\n").defaultAction == .notify)
        #expect(try parseLXC("2\nallowlist log\n").defaultAction == .log)
        #expect(try parseLXC("2\nallowlist allow  \n").defaultAction == .allow)
        // The version and the type may share a line, as fscanf("%d\n") reads them.
        #expect(try parseLXC("\n 2 denylist\nmkdir\n").rules.first?.origin == "line 3")
    }

    @Test func everyActionSpelling() throws {
        let text = """
            2
            denylist
            a0 kill
            a1 errno 13
            a2 errno 0x10
            a3 allow
            a4 trap
            a5 notify
            a6 log
            a7 killer
            a8 errno -0
            a9 # comment only
            """
        let actions = try parseLXC(text).rules.map(\.action)
        #expect(
            actions == [
                .killThread, .errno(13), .errno(16), .allow, .trap, .notify, .log, .killThread,
                .errno(0), .killThread,
            ])
    }

    @Test func everyOperatorSpelling() throws {
        let pairs: [(String, SeccompComparison)] = [
            ("SCMP_CMP_NE", .notEqual), ("!=", .notEqual), ("SCMP_CMP_LT", .lessThan),
            ("<", .lessThan), ("SCMP_CMP_LE", .lessOrEqual), ("<=", .lessOrEqual),
            ("SCMP_CMP_EQ", .equal), ("==", .equal), ("SCMP_CMP_GE", .greaterOrEqual),
            (">=", .greaterOrEqual), ("SCMP_CMP_GT", .greaterThan), (">", .greaterThan),
            ("SCMP_CMP_MASKED_EQ", .maskedEqual), ("&=", .maskedEqual),
        ]
        for (spelling, comparison) in pairs {
            let policy = try parseLXC("2\ndenylist\nioctl errno 1 [1,0x5401,\(spelling)]\n")
            #expect(
                policy.rules.first?.conditions == [ArgumentCondition(index: 1, comparison, 0x5401)]
            )
        }
    }

    @Test func conditionsWithMasksAndSeveralArguments() throws {
        let rule = try #require(
            parseLXC(
                "2\ndenylist\nmknod errno 1 [1,0x2000,SCMP_CMP_MASKED_EQ,0xf000] [0,7,<=]\n"
            ).rules.first)
        #expect(
            rule.conditions == [
                ArgumentCondition(index: 1, .maskedEqual, 0x2000, mask: 0xf000),
                ArgumentCondition(index: 0, .lessOrEqual, 7),
            ])
        #expect(rule.conditions[0].description == "arg1 & 0xf000 == 0x2000")
    }

    @Test func archSectionsGateRulesAsLXCDoes() throws {
        let text = """
            2
            denylist
            [x86_64]
            a errno 1
            [X86]
            b errno 1
            [x32]
            c errno 1
            [arm64]
            not parsed at all [
            [PPC64LE]
            d
            [ALL]
            e errno 1
            [X86_64]
            f errno 1
            """
        let policy = try parseLXC(text)
        #expect(
            policy.rules.map(\.syscall) == [
                .name("a"), .name("b"), .name("c"), .name("e"), .name("f"),
            ])
        #expect(
            policy.warnings == [
                "test.seccomp:9: section [arm64] does not apply on x86_64; its rules are skipped",
                "test.seccomp:11: section [PPC64LE] does not apply on x86_64; its rules are "
                    + "skipped",
            ])
        // On arm64 the same policy keeps the [arm64] section and skips the x86 ones.
        let arm = try LXCPolicyParser.parse(
            "2\ndenylist\n[x86]\nb\n[arm64]\ng\n[arm]\nh\n", file: "a", native: .aarch64)
        #expect(arm.rules.map(\.syscall) == [.name("g"), .name("h")])
        #expect(arm.extraArchitectures == [.arm])
    }

    @Test func rejectForceUmountIsItsOwnRule() throws {
        let rule = try #require(parseLXC("2\ndenylist\nreject_force_umount\n").rules.first)
        #expect(rule.isRejectForceUmount)
    }

    @Test func badInputNamesFileLineAndReason() {
        let cases: [(String, String)] = [
            ("", "test.seccomp: empty policy: expected a version"),
            ("x\n", "test.seccomp:1: expected the policy version (1 or 2), found \"x\""),
            ("3\ndenylist\n", "test.seccomp:1: unsupported policy version 3: lxc reads 1 and 2"),
            ("2\n", "test.seccomp:1: missing the policy type line (allowlist or denylist)"),
            (
                "2\ngraylist\n",
                "test.seccomp:2: bad policy type \"graylist\": expected allowlist or denylist"
            ),
            ("2\ndenylist debug\n", "test.seccomp:2: the debug directive is not implemented"),
            (
                "2\ndenylist frob\n",
                "test.seccomp:2: unknown action \"frob\" as the default action"
            ),
            (
                "2\ndenylist\nread\nmkdir frob 1\n",
                "test.seccomp:4: unknown action \"frob 1\" for mkdir"
            ),
            (
                "2\ndenylist\nmkdir errno\n",
                "test.seccomp:3: the errno action needs a number for mkdir"
            ),
            (
                "2\ndenylist\nmkdir errno 70000\n",
                "test.seccomp:3: errno 70000 is out of range for mkdir"
            ),
            (
                "2\ndenylist\nmkdir [1,2,==]\n",
                "test.seccomp:3: unknown action \"[1,2,==]\" for mkdir"
            ),
            (
                "2\ndenylist\nmkdir errno 1 [7,2,==]\n",
                "test.seccomp:3: bad argument condition for mkdir: argument index 7 in "
                    + "\"[7,2,==]\" is not 0 to 5"
            ),
            (
                "2\ndenylist\nmkdir errno 1 [1,2,=~]\n",
                "test.seccomp:3: bad argument condition for mkdir: unknown operator \"=~\" in "
                    + "\"[1,2,=~]\""
            ),
            (
                "2\ndenylist\nmkdir errno 1 [1,-2,==]\n",
                "test.seccomp:3: bad argument condition for mkdir: invalid value \"-2\" in "
                    + "\"[1,-2,==]\""
            ),
            (
                "2\ndenylist\nmkdir errno 1 [1,2]\n",
                "test.seccomp:3: bad argument condition for mkdir: \"[1,2]\" is not "
                    + "[index,value,op] or [index,value,op,mask]"
            ),
            (
                "2\ndenylist\nmkdir errno 1 [1,2,==] # no\n",
                "test.seccomp:3: bad argument condition for mkdir: \" # no\" is not "
                    + "[index,value,op] or [index,value,op,mask]"
            ),
            (
                "2\ndenylist\n[i386]\n",
                "test.seccomp:3: unsupported architecture section \"[i386]\""
            ),
            ("2\ndenylist\n[all\n", "test.seccomp:3: unsupported architecture section \"[all\""),
            ("2\ndenylist\n  mkdir\n", "test.seccomp:3: unknown action \"mkdir\" for the rule"),
        ]
        for (text, message) in cases {
            let error = parseError(text)
            #expect(error?.description == message, "\(text.debugDescription)")
            if case .invalidPolicy = error {} else { Issue.record("not a policy error: \(text)") }
        }
    }

    @Test func commentsAndBlankLinesAreSkipped() throws {
        let policy = try parseLXC("2\ndenylist\n# mkdir\n\n   \nrmdir errno 1 # why\n")
        #expect(policy.rules.map(\.syscall) == [.name("rmdir")])
        #expect(policy.rules.first?.origin == "line 6")
    }

    @Test func lxcsOwnCommonPolicyParses() throws {
        // The policy LXC ships as common.seccomp.
        let text = """
            2
            denylist
            reject_force_umount  # comment this to allow umount -f;  not recommended
            [all]
            kexec_load errno 1
            open_by_handle_at errno 1
            init_module errno 1
            finit_module errno 1
            delete_module errno 1
            """
        let policy = try parseLXC(text)
        #expect(policy.rules.count == 6)
        #expect(policy.rules.dropFirst().allSatisfy { $0.action == .errno(1) })
    }
}
