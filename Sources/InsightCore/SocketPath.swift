/// Where the daemon listens and the CLI connects, by one rule for both.
public enum SocketPath {
    /// `$INSIGHTD_SOCKET`, else `$RUNTIME_DIRECTORY/insightd.sock` (systemd), else
    /// `$XDG_RUNTIME_DIR/insightd/insightd.sock`, else `/run/insightd/insightd.sock`.
    public static func resolve(environment: [String: String]) -> String {
        if let explicit = environment["INSIGHTD_SOCKET"], !explicit.isEmpty { return explicit }
        if let runtime = environment["RUNTIME_DIRECTORY"], !runtime.isEmpty {
            // systemd may list several directories separated by colons; the first is ours.
            let first = runtime.split(separator: ":").first.map(String.init) ?? runtime
            return first + "/insightd.sock"
        }
        if let xdg = environment["XDG_RUNTIME_DIR"], !xdg.isEmpty { return xdg + "/insightd/insightd.sock" }
        return "/run/insightd/insightd.sock"
    }
}
