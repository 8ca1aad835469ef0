import Glibc
import LXCRuntime
import LXCSystem

extension Container {
    /// The mount of the container's devpts instance, from its monitor (LXC's `devpts_fd`):
    /// `openat(fd, "ptmx", O_RDWR | O_NOCTTY)` beneath it gives a pty whose peer the container
    /// sees as `/dev/pts/N`. Throws `notRunning` for a stopped container and ENOENT when the
    /// container mounts no devpts instance of its own.
    public func devptsFD() throws(ContainerError) -> FileDescriptor {
        let what = "devpts fd of \(name)"
        let answer: (reply: CommandMessage, descriptors: DescriptorList)
        do {
            answer = try CommandClient.send(.getDevptsFD, lxcpath: lxcpath, name: name)
        } catch {
            if error.errno == .ECONNREFUSED { throw .store(.notRunning(name)) }
            throw .command(what, error)
        }
        if answer.reply.code == -ENOENT {
            throw .command(
                "\(what): the container mounts no devpts instance of its own",
                SyscallError(.ENOENT, call: "devpts_fd"))
        }
        guard answer.reply.code == 0, let fd = answer.descriptors.take(0) else {
            throw .command(
                what,
                SyscallError(
                    Errno(rawValue: -min(answer.reply.code, -Errno.EBADF.rawValue)), call: "recvmsg"
                ))
        }
        return fd
    }
}
