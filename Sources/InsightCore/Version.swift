/// The version of insightd and insightctl, and of the socket API they speak.
public enum InsightVersion {
    /// The release version, shown by `--version`, in status and in the fetcher's User-Agent.
    public static let current = "0.1.0"
    /// The socket API's schema number; bumped when a reply changes incompatibly.
    public static let apiSchema = 1
}
