/// Facts about this build of SwiftLXC.
public enum SwiftLXC {
    /// The version of SwiftLXC itself.
    public static let version = "0.1.0"
    /// The LXC release whose API and behaviour SwiftLXC follows (`lxc_get_version`).
    public static let lxcVersion = "5.0.2"
}
