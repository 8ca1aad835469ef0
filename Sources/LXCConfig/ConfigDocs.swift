/// Generates `Docs/config.md` from the key tables, so the page cannot drift from them.
public enum ConfigDocs {
    /// The whole page.
    public static var markdown: String {
        var text = """
            # LXC config keys

            Generated from `Sources/LXCConfig/KeyTable.swift` by `swiftlxc config docs`; a test
            checks this file against the table. SwiftLXC reads LXC 5.0.2's keys with its value
            forms and read-back rules. Multi-valued keys read back one value a line; an empty
            value clears a key; clearing a family name (`lxc.cgroup`, `lxc.net`, `lxc.net.0`)
            clears all its members. Legacy names (`lxc.network.*`, `lxc.utsname`, …) are refused
            with the name to use instead.

            ## Top-level keys

            | key | value | meaning |
            |---|---|---|

            """
        for key in ConfigKeys.top {
            let name = key.isFamily ? "`\(key.name).*`" : "`\(key.name)`"
            text += "| \(name) | \(cell(key.form)) | \(key.summary) |\n"
        }
        text += """

            ## Network keys: `lxc.net.N.<key>`

            | key | value | meaning |
            |---|---|---|

            """
        for key in ConfigKeys.network {
            text += "| `\(key.name)` | \(cell(key.form)) | \(key.summary) |\n"
        }
        return text
    }

    private static func cell(_ form: String) -> String {
        form.isEmpty ? "" : "`" + form.replacingPipes() + "`"
    }
}

extension String {
    fileprivate func replacingPipes() -> String {
        var result = ""
        for character in self { result += character == "|" ? "\\|" : String(character) }
        return result
    }
}
