// The container-side stage. The host side spawns it into the new namespaces with the sync
// socket as fd 3; it links no Foundation, so it starts fast and stays small.
import Glibc
import LXCInit

exit(ContainerStage.main())
