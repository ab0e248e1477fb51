import Foundation

/// Starts a program with posix_spawn, the way the tests start servers, daemons and scripts that must outlive or
/// escape what Foundation's `Process` does: standard input from /dev/null, standard output and error where asked.
public enum Spawn {
    /// Where the program's standard output and error go.
    public enum Output {
        /// A file, truncated or appended to.
        case file(String, append: Bool)
        /// A descriptor of the caller's (for example the write end of a pipe).
        case descriptor(Int32)
    }

    /// Starts `executable` and returns its pid.
    ///
    /// - Parameters:
    ///   - arguments: the arguments after the program's name.
    ///   - output: where standard output and error go.
    ///   - closing: descriptors of the caller the program must not inherit (dup2 leaves the originals open).
    ///   - passing: a descriptor handed to the program under another number (dup2 clears `FD_CLOEXEC` on the copy;
    ///     one already under that number is passed as it is).
    ///   - environment: the program's environment; the caller's when nil.
    ///   - defaultSignals: start with an empty signal mask and default handlers. The test process blocks most
    ///     signals, and a child inherits that mask: without this, `timeout` in a script cannot stop what it runs and
    ///     SIGTERM does not reach a daemon or a script's teardown.
    public static func start(_ executable: String, _ arguments: [String], output: Output, closing: [Int32] = [],
                             passing: (descriptor: Int32, as: Int32)? = nil, environment: [String: String]? = nil,
                             defaultSignals: Bool = true) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        switch output {
        case .file(let path, let append):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .descriptor(let descriptor):
            posix_spawn_file_actions_adddup2(&actions, descriptor, 1)
            posix_spawn_file_actions_adddup2(&actions, descriptor, 2)
        }
        for descriptor in closing { posix_spawn_file_actions_addclose(&actions, descriptor) }
        if let passing, passing.descriptor != passing.as { posix_spawn_file_actions_adddup2(&actions, passing.descriptor, passing.as) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if defaultSignals {
            var none = sigset_t(), all = sigset_t()
            sigemptyset(&none)
            sigfillset(&all)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setsigdefault(&attributes, &all)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        }

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = envp.map { posix_spawn(&pid, executable, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw SpawnError(description: "cannot run \(executable): \(String(cString: strerror(spawned)))") }
        return pid
    }
}

/// posix_spawn refused to start a program.
public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
}
