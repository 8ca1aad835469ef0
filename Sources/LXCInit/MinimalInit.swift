import CShim
import Glibc
import LXCSystem

/// PID 1 for application containers: starts the workload as its child, forwards signals to
/// it, reaps every zombie, and exits with the workload's status (128 + signal if signalled).
enum MinimalInit {
    /// Signals passed on to the workload. A PID 1 only receives signals it has a handler
    /// for, so each gets a no-op handler; they stay blocked and are read with sigwaitinfo.
    static let forwarded: [Int32] = [
        SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT,
        SIGTSTP, SIGTTIN, SIGTTOU, SIGPWR,
    ]

    static func run(_ exec: PreparedExec, socket: borrowing FileDescriptor) -> Int32 {
        var all = sigset_t()
        sigfillset(&all)
        var previous = sigset_t()
        sigprocmask(SIG_SETMASK, &all, &previous)
        for signal in forwarded + [SIGCHLD] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in }
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }

        let child = fork()
        if child == 0 {
            // The workload starts with default handlers and nothing blocked.
            for signal in forwarded + [SIGCHLD] { Glibc.signal(signal, SIG_DFL) }
            var none = sigset_t()
            sigemptyset(&none)
            sigprocmask(SIG_SETMASK, &none, nil)
            _ = setsid()
            _ = exec.execute()
            _exit(127)
        }
        if child < 0 {
            ContainerStage.report(
                StageFailure(step: "exec", call: "fork", errno: Errno.current.rawValue), on: socket)
            return 1
        }

        while true {
            var info = siginfo_t()
            let signal = sigwaitinfo(&all, &info)
            if signal < 0 { continue }
            if signal != SIGCHLD {
                _ = kill(child, signal)
                continue
            }
            // One SIGCHLD may stand for several exits: reap until nothing is left.
            while true {
                var raw: Int32 = 0
                let pid = waitpid(-1, &raw, WNOHANG)
                if pid <= 0 { break }
                if pid == child {
                    return TerminationStatus(waitStatus: raw).shellStatus
                }
            }
        }
    }
}
