import Glibc
import Testing

@testable import LXCSystem

/// The log is process-global, so these tests run one at a time.
@Suite(.serialized) struct LogTests {
    @Test func lineFollowsLXCFormat() {
        // 2026-12-03 13:54:05.683 UTC
        let time = Timestamp(seconds: 1_796_306_045, nanoseconds: 683_000_000)
        let line = Log.formatLine(
            prefix: "lxc-info", name: "demo", time: time, level: .trace, category: "commands",
            file: "commands.c", function: "lxc_cmd", line: 514, message: "connection refused")
        #expect(
            line == "lxc-info demo 20261203135405.683 TRACE    commands - "
                + "commands.c:lxc_cmd:514 - connection refused")
        let error = Log.formatLine(
            prefix: "lxc", name: nil, time: time, level: .error, category: "start",
            file: "f.swift", function: "run()", line: 1, message: "m")
        #expect(error == "lxc 20261203135405.683 ERROR    start - f.swift:run():1 - m")
    }

    @Test func jsonLineHasLevelMessageAndTime() {
        let time = Timestamp(seconds: 1_796_306_045, nanoseconds: 5)
        let line = Log.formatJSON(level: .warn, message: "a \"b\"\n", time: time)
        #expect(
            line
                == #"{"level":"warning","msg":"a \"b\"\n","time":"2026-12-03T13:54:05.000000005Z"}"#
        )
    }

    @Test func levelsParseCaseInsensitively() {
        #expect(LogLevel(name: "trace") == .trace)
        #expect(LogLevel(name: "Warn") == .warn)
        #expect(LogLevel(name: "FATAL") == .fatal)
        #expect(LogLevel(name: "verbose") == nil)
        #expect(
            LogLevel.allCases.map(\.name) == [
                "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR", "CRIT", "ALERT", "FATAL",
            ])
    }

    @Test func fileReceivesOnlyEnabledLevelsAndSecondInitIsANoOp() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/test.log"
        Log.close()
        defer { Log.close() }
        #expect(
            try Log.initialize(LogOptions(name: "c1", file: path, level: "info", prefix: "test")))
        #expect(try !Log.initialize(LogOptions(name: "c2", file: "none", level: "trace")))
        #expect(Log.level == .info)

        let logger = Logger("tests")
        logger.debug("dropped")
        logger.info("kept info")
        logger.error("kept error")

        let text = try FileContents.readText(path)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("test c1 "))
        #expect(lines[0].contains(" INFO     tests - LogTests.swift:"))
        #expect(lines[0].hasSuffix(" - kept info"))
        #expect(lines[1].contains(" ERROR    tests - "))
        // The timestamp is 14 digits, a dot and 3 digits.
        let stamp = lines[0].split(separator: " ")[2]
        #expect(stamp.count == 18 && stamp.dropFirst(14).first == ".")
    }

    @Test func fileNoneDisablesTheFileAndDefaultLevelIsError() throws {
        Log.close()
        defer { Log.close() }
        #expect(try Log.initialize(LogOptions(name: "c", file: "none")))
        #expect(Log.level == .error)
        #expect(Log.filePath == nil)
        #expect(!Log.isEnabled(.error), "no file and quiet: nothing is written anywhere")
    }

    @Test func unknownLevelIsRefused() {
        Log.close()
        #expect(throws: LogError.unknownLevel("loud")) {
            try Log.initialize(LogOptions(file: "none", level: "loud"))
        }
    }
}
