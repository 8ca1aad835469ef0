import Foundation
import Testing

@testable import LXCConfig

@Suite struct OCIDecodeTests {
    private func decode(_ json: String) throws(OCIError) -> (spec: OCISpec, warnings: [String]) {
        try OCISpec.decode(Array(json.utf8))
    }

    private func failure(_ json: String) -> String? {
        do {
            _ = try decode(json)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// A minimal document with `process` set to `process`.
    private func withProcess(_ process: String) -> String {
        #"{"ociVersion":"1.2.0","process":"# + process + "}"
    }

    @Test(arguments: ["crun-spec.json", "runc-spec.json", "podman-config.json"])
    func fixturesDecodeAsJSONDecoderDecodesThem(name: String) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))
        let expected = try JSONDecoder().decode(OCISpec.self, from: bytes)
        let (spec, warnings) = try OCISpec.decode(Array(bytes))
        #expect(spec == expected)
        #expect(warnings == [])
    }

    @Test func integersKeepTheirFullRange() throws {
        let json = """
            {"ociVersion":"1.0","process":{"cwd":"/","user":{"uid":4294967295,"gid":0,
              "additionalGids":[0,4294967295]}},
             "linux":{"resources":{"memory":{"limit":-1,"swap":9223372036854775807,
               "reservation":-9223372036854775808,"swappiness":18446744073709551615},
               "cpu":{"quota":-1,"period":1e5},"pids":{"limit":-1}},
              "seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],
               "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744073709551615,
               "op":"SCMP_CMP_MASKED_EQ","valueTwo":0}]}]}}}
            """
        let (spec, _) = try decode(json)
        #expect(spec.process?.user.uid == UInt32.max)
        #expect(spec.process?.user.additionalGids == [0, UInt32.max])
        let memory = try #require(spec.linux?.resources?.memory)
        #expect(memory.limit == -1 && memory.swap == Int64.max && memory.reservation == Int64.min)
        #expect(memory.swappiness == UInt64.max)
        #expect(
            spec.linux?.resources?.cpu?.quota == -1 && spec.linux?.resources?.cpu?.period == 100_000
        )
        #expect(spec.linux?.resources?.pids?.limit == -1)
        #expect(spec.linux?.seccomp?.syscalls?.first?.args?.first?.value == UInt64.max)
    }

    @Test(arguments: [
        (
            #"{"cwd":"/","user":{"uid":-1,"gid":0}}"#,
            "process.user.uid: expected an integer from 0 to 4294967295, found -1"
        ),
        (
            #"{"cwd":"/","user":{"uid":4294967296,"gid":0}}"#,
            "process.user.uid: expected an integer from 0 to 4294967295, found 4294967296"
        ),
        (
            #"{"cwd":"/","user":{"uid":1.5,"gid":0}}"#,
            "process.user.uid: expected an integer from 0 to 4294967295, found 1.5"
        ),
        (
            #"{"cwd":"/","user":{"uid":"0","gid":0}}"#,
            "process.user.uid: expected an integer, found a string"
        ),
        (#"{"cwd":null,"user":{"uid":0,"gid":0}}"#, "process.cwd: expected a string, found null"),
        (#"{"cwd":"/","user":{"uid":0}}"#, "process.user.gid: missing required field"),
        (
            #"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh",7]}"#,
            "process.args[1]: expected a string, found a number"
        ),
        (
            #"{"cwd":"/","user":{"uid":0,"gid":0},"rlimits":[{"type":"RLIMIT_NOFILE","soft":1}]}"#,
            "process.rlimits[0].hard: missing required field"
        ),
        (
            #"{"cwd":"/","user":{"uid":0,"gid":0},"oomScoreAdj":9223372036854775808}"#,
            "process.oomScoreAdj: expected an integer from -9223372036854775808 to "
                + "9223372036854775807, found 9223372036854775808"
        ),
        (#"[]"#, "process: expected an object, found an array"),
        (
            #"{"cwd":"/","user":{"uid":0,"gid":0},"terminal":1}"#,
            "process.terminal: expected a boolean, found a number"
        ),
        (
            #"{"cwd":"/","user":{"uid":0,"gid":0},"env":{}}"#,
            "process.env: expected an array, found an object"
        ),
    ])
    func badValuesNameTheirPath(process: String, message: String) {
        #expect(failure(withProcess(process)) == message)
    }

    @Test func badValuesDeepInLinuxNameTheirPath() {
        #expect(
            failure(#"{"ociVersion":"1","linux":{"sysctl":{"a":"1","b":2}}}"#)
                == "linux.sysctl.b: expected a string, found a number")
        #expect(
            failure(#"{"ociVersion":"1","linux":{"timeOffsets":{"boottime":{"secs":"x"}}}}"#)
                == "linux.timeOffsets.boottime.secs: expected an integer, found a string")
        #expect(
            failure(
                #"{"ociVersion":"1","mounts":[{"destination":"/a"},{"destination":"/b","options":[1]}]}"#
            )
                == "mounts[1].options[0]: expected a string, found a number")
        #expect(failure("[]") == "expected an object, found an array")
        #expect(failure("{}") == "ociVersion: missing required field")
    }

    @Test func malformedJSONNamesFileLineAndColumn() {
        do {
            _ = try OCISpec.decode(
                Array("{\n  \"ociVersion\": \"1.0\",\n  \"x\": tru\n}".utf8), file: "/b/config.json"
            )
            Issue.record("accepted malformed json")
        } catch {
            #expect(
                "\(error)"
                    == "/b/config.json: invalid json at line 3, column 11: unexpected byte 0x0A, expected true"
            )
        }
    }

    @Test func unknownKeysWarnOnceInDocumentOrder() throws {
        var mounts = (0..<11).map { #"{"destination":"/m\#($0)"}"# }
        mounts[10] = #"{"destination":"/m10","z":1}"#
        mounts[2] = #"{"destination":"/m2","z":1}"#
        let json = """
            {"ociVersion":"1.0","zz":1,"b":2,"b":3,"mounts":[\(mounts.joined(separator: ","))],
             "annotations":{"any.key":"v"},
             "process":{"cwd":"/","user":{"uid":0,"gid":0},"selinuxLabel":"l"},
             "linux":{"mountLabel":"m","sysctl":{"net.x":"1"},
              "resources":{"blockIO":{"weightDevice":[{"major":1,"minor":2,"extra":true}]},
               "unified":{"memory.high":"1"}},
              "timeOffsets":{"monotonic":{"secs":1,"ticks":2}},
              "hooks":{"prestart":[{"path":"/x","when":"now"}]}}}
            """
        let (_, warnings) = try decode(json)
        #expect(
            warnings == [
                "b is not supported and is ignored",
                "linux.hooks is not supported and is ignored",
                "linux.resources.blockIO.weightDevice[0].extra is not supported and is ignored",
                "linux.timeOffsets.monotonic.ticks is not supported and is ignored",
                "mounts[2].z is not supported and is ignored",
                "mounts[10].z is not supported and is ignored",
                "zz is not supported and is ignored",
                "linux.mountLabel is not supported and is ignored",
                "process.selinuxLabel is not supported and is ignored",
            ])
    }

    @Test func duplicateKeysTakeTheLastValueWithAWarning() throws {
        let json = """
            {"ociVersion":"1.0","hostname":"a","hostname":"b","hostname":"c",
             "annotations":{"k":"1","k":"2"}}
            """
        let (spec, warnings) = try decode(json)
        #expect(spec.hostname == "c" && spec.annotations == ["k": "2"])
        #expect(
            warnings == [
                "annotations.k is given more than once; the last value is used",
                "hostname is given more than once; the last value is used",
            ])
    }

    @Test func hooksWarnAboutTheirUnknownKeys() throws {
        let json =
            #"{"ociVersion":"1.0","hooks":{"poststop":[{"path":"/x","when":"now"}],"later":[]}}"#
        let (spec, warnings) = try decode(json)
        #expect(spec.hooks?.poststop?.first?.path == "/x")
        #expect(
            warnings == [
                "hooks.later is not supported and is ignored",
                "hooks.poststop[0].when is not supported and is ignored",
            ])
    }
}
