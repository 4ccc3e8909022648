namespace Vdi.WebClient.Transport;

/// <summary>Where the viewer's connection stands; shown lower-case in <c>#status</c>.</summary>
public enum ConnectionStatus
{
    Connecting,
    Connected,
    Reconnecting,

    /// <summary>The server ended the session (take-over, admin, desktop stopped); no reconnect.</summary>
    Ended,

    /// <summary>The session could not be opened or connected; the error says why.</summary>
    Failed,

    /// <summary>The connection was lost and reconnecting gave up.</summary>
    Disconnected,
}
