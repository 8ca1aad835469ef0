import LXCConfig

/// `lxc_config_item_is_supported`: true only for an exact top-level key of LXC 5.0.2's table
/// (`lxc.net` yes, `lxc.net.0.type` and `lxc.network.type` no).
public func configItemIsSupported(_ key: String) -> Bool {
    ConfigKeys.isSupported(key)
}
