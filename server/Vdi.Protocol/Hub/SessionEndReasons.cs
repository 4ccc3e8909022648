namespace Vdi.Protocol;

/// <summary>Values of <see cref="SessionEnded.Reason"/> and <c>SessionSummary.EndReason</c>.</summary>
public static class SessionEndReasons
{
    /// <summary>The same user connected to the desktop from another client.</summary>
    public const string TakenOver = "taken-over";

    /// <summary>An administrator ended the session.</summary>
    public const string DisconnectedByAdmin = "disconnected-by-admin";

    /// <summary>The desktop VM stopped (shut down, crashed or was stopped by an administrator).</summary>
    public const string DesktopStopped = "desktop-stopped";

    /// <summary>The session or its token outlived its lifetime.</summary>
    public const string Expired = "expired";

    /// <summary>The connection went away without a word (closed tab, lost network).</summary>
    public const string Disconnected = "disconnected";

    /// <summary>The user signed out: every session of theirs ends.</summary>
    public const string SignedOut = "signed-out";

    /// <summary>The server restarted while the session was live; the record was closed at the next start.</summary>
    public const string ServerRestarted = "server-restarted";

    /// <summary>
    /// The desktop moved to another host of a cluster (a host drained): the connection here ends, not the session — the
    /// client connects again at once, through the same address, with <see cref="SessionEnded.ResumeToken"/>, and reaches
    /// the desktop where it runs now. A session record ends with it only when the client never comes back.
    /// </summary>
    public const string Moved = "moved";

    /// <summary>Every reason, in declaration order.</summary>
    public static IReadOnlyList<string> All { get; } = [TakenOver, DisconnectedByAdmin, DesktopStopped, Expired, Disconnected, SignedOut, ServerRestarted, Moved];

    /// <summary>True for one of the reasons above.</summary>
    public static bool IsKnown(string? reason) => reason is TakenOver or DisconnectedByAdmin or DesktopStopped or Expired or Disconnected or SignedOut or ServerRestarted or Moved;
}
