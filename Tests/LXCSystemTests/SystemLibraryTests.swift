import CCap
import CSeccomp
import Testing

/// The system-library targets link and answer: libseccomp and libcap from Debian.
@Suite struct SystemLibraryTests {
    @Test func libseccompReportsAnAPILevel() {
        #expect(seccomp_api_get() >= 1)
    }

    @Test func libcapReadsThisProcess() throws {
        guard let caps = cap_get_proc() else {
            Issue.record("cap_get_proc failed")
            return
        }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        guard let text = cap_to_text(caps, nil) else {
            Issue.record("cap_to_text failed")
            return
        }
        defer { cap_free(text) }
        #expect(!String(cString: text).isEmpty)
    }
}
