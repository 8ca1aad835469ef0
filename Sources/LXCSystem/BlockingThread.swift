import Glibc

/// Runs blocking work (an `accept`, a `poll`, a child's wait) on a thread of its own, apart
/// from Swift concurrency's pool, whose few threads must never block for long: with two
/// cores, two blocked pool threads stop every task of the process.
public final class BlockingThread<Result: Sendable>: @unchecked Sendable {
    private let runner: ThreadRunner
    private let box: Box

    private final class Box: @unchecked Sendable {
        var value: Result?
    }

    /// Starts `body` on a new thread at once.
    public init(_ body: @escaping @Sendable () -> Result) {
        let box = Box()
        self.box = box
        runner = ThreadRunner { box.value = body() }
    }

    /// Waits for the thread and returns what `body` returned (nil only if it never ran).
    public func join() -> Result? {
        runner.join()
        return box.value
    }
}

/// The non-generic part: a C thread entry point cannot capture a generic context.
final class ThreadRunner: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread, nil,
            { context in
                guard let context else { return nil }
                let this = Unmanaged<ThreadRunner>.fromOpaque(context).takeRetainedValue()
                this.body()
                return nil
            }, context)
    }

    /// Waits for the thread; pthread_join orders everything it wrote before what follows.
    func join() {
        pthread_join(thread, nil)
    }
}
