import Glibc
import LXC
import LXCSystem

/// When `main` began, for the phase timings of the debug log.
let processStart = MonotonicClock.now()

/// The command line's entry: the first argument names the verb.
let arguments = Array(CommandLine.arguments.dropFirst())
exit(CommandLineTool.run(arguments))
