/// A scenario of the benchmark issue whose feature SwiftLXC does not have yet. It is listed so
/// the report shows every scenario; the issue that lands the feature replaces its entry in
/// `Scenarios.all` with a scenario file of its own.
struct PendingScenario: Scenario {
    var id: String
    var title: String
    /// The missing feature, named in the report.
    var feature: String

    func run(_ context: BenchContext) -> [ScenarioResult] {
        [.skipped(id, title, reason: "\(feature) has not landed")]
    }
}
