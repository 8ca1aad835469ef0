import Glibc
import LXC
import LXCSystem

/// The command line's entry: the first argument names the verb.
let arguments = Array(CommandLine.arguments.dropFirst())
exit(CommandLineTool.run(arguments))
