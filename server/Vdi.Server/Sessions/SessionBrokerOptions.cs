namespace Vdi.Server.Sessions;

/// <summary>Bound from "Vdi:Sessions".</summary>
public sealed class SessionBrokerOptions
{
    /// <summary>The least time between two display changes handed to a desktop; reports within it are gathered.</summary>
    public TimeSpan Debounce { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a session's single-use connect token can be redeemed; an unconnected session then ends (<c>expired</c>).</summary>
    public TimeSpan ConnectTokenLifetime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often unconnected sessions whose token expired are ended.</summary>
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most live sessions (connected, or waiting with a valid token) one user may have; POST /api/sessions answers 429 beyond.</summary>
    public int MaxLiveSessionsPerUser { get; set; } = 8;
}
