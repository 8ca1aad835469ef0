// swift-tools-version: 6.0
// SwiftLXC: a Linux container runtime in Swift that reimplements the LXC API.
// Targets follow Docs/architecture.md: one per kernel subsystem, each importing only
// the targets listed before it.

import PackageDescription

let package = Package(
    name: "SwiftLXC",
    products: [
        .library(name: "LXC", targets: ["LXC"]),
        .executable(name: "swiftlxc", targets: ["swiftlxc"]),
        .executable(name: "swiftlxc-init", targets: ["swiftlxc-init"]),
        // liblxc.so.1 for programs built on LXC's C API (Scripts/build-liblxc.sh names it).
        .library(name: "lxc", type: .dynamic, targets: ["LXCABI"]),
    ],
    targets: [
        // C lives only in these three shim targets.
        .target(name: "CShim"),
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        .systemLibrary(
            name: "CCap",
            pkgConfig: "libcap",
            providers: [.apt(["libcap-dev"])]
        ),

        .target(name: "LXCSystem", dependencies: ["CShim"]),
        .target(name: "LXCCgroups", dependencies: ["LXCSystem"]),
        .target(name: "LXCConfig", dependencies: ["LXCSystem"]),
        .target(name: "LXCMount", dependencies: ["LXCSystem"]),
        .target(name: "LXCNetwork", dependencies: ["LXCSystem"]),
        .target(name: "LXCConsole", dependencies: ["LXCSystem"]),
        .target(name: "LXCCapabilities", dependencies: ["LXCSystem", "CCap"]),
        .target(name: "LXCSeccomp", dependencies: ["LXCSystem", "CSeccomp"]),
        .target(name: "LXCInit", dependencies: ["LXCSystem", "LXCMount", "LXCCapabilities"]),
        .target(
            name: "LXCRuntime",
            dependencies: [
                "LXCSystem", "LXCConfig", "LXCCgroups", "LXCMount", "LXCSeccomp", "LXCNetwork",
                "LXCConsole", "LXCCapabilities", "LXCInit",
            ]
        ),
        .target(
            name: "LXC",
            dependencies: ["LXCSystem", "LXCConfig", "LXCNetwork", "LXCMount", "LXCRuntime"]),

        // LXC's C ABI: the struct layouts and what must be C (CLXCABI), the exports (LXCABI).
        .target(name: "CLXCABI"),
        .target(
            name: "LXCABI",
            dependencies: [
                "CLXCABI", "LXC", "LXCConfig", "LXCRuntime", "LXCSystem", "LXCCapabilities",
            ],
            linkerSettings: [.unsafeFlags(["-Xlinker", "-soname=liblxc.so.1"])]
        ),

        .executableTarget(
            name: "swiftlxc",
            dependencies: ["LXC", "LXCSystem", "LXCConfig", "LXCRuntime", "LXCSeccomp"]
        ),
        .executableTarget(name: "swiftlxc-init", dependencies: ["LXCInit"]),
        .executableTarget(name: "swiftlxc-bench", dependencies: ["LXCSystem"]),

        .testTarget(
            name: "LXCSystemTests",
            dependencies: ["LXCSystem", "CSeccomp", "CCap"]
        ),
        .testTarget(
            name: "LXCRuntimeTests",
            dependencies: [
                "LXCRuntime", "LXCInit", "LXCMount", "LXCCapabilities", "LXCSeccomp", "LXCSystem",
            ]
        ),
        // Runs C and python3-lxc programs against the built liblxc.so (product "lxc").
        .testTarget(name: "LXCABITests", dependencies: ["LXCSystem"], exclude: ["Fixtures"]),
        .testTarget(name: "LXCTests", dependencies: ["LXC", "LXCSeccomp", "LXCSystem", "CShim"]),
        .testTarget(name: "LXCNetworkTests", dependencies: ["LXCNetwork", "LXCSystem"]),
        .testTarget(name: "LXCCgroupsTests", dependencies: ["LXCCgroups", "LXCSystem"]),
        .testTarget(name: "LXCConsoleTests", dependencies: ["LXCConsole", "LXCSystem"]),
        .testTarget(
            name: "LXCSeccompTests", dependencies: ["LXCSeccomp", "LXCSystem"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "LXCConfigTests",
            dependencies: ["LXCConfig", "LXC"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
