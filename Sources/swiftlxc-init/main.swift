// The container-side stage. The host side spawns it into the new namespaces with the sync
// socket as fd 3; it links no Foundation, so it starts fast and stays small. Started as
// `swiftlxc-attach` (argv[0]) it is the attach helper of a running container instead.
import Glibc
import LXCInit

if CommandLine.arguments.first == attachModeArgument0 {
    exit(AttachStage.main())
}
exit(ContainerStage.main())
