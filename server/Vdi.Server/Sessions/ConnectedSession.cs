using Vdi.Protocol;

namespace Vdi.Server.Sessions;

/// <summary>A session with a live connection.</summary>
public sealed class ConnectedSession
{
    internal ConnectedSession(Guid sessionId, Guid desktopId, string userId, bool shadow, string connectionId, ClientDisplay display, ISessionClient client)
    {
        SessionId = sessionId;
        DesktopId = desktopId;
        UserId = userId;
        IsShadow = shadow;
        ConnectionId = connectionId;
        Display = display;
        Client = client;
    }

    public Guid SessionId { get; }

    public Guid DesktopId { get; }

    public string UserId { get; }

    /// <summary>View-only: never reconfigures the display and sends no input.</summary>
    public bool IsShadow { get; }

    public string ConnectionId { get; }

    /// <summary>The name the client gave when it created the session ("iPhone"), if any.</summary>
    public string? ClientName { get; init; }

    /// <summary>The client's display as last reported.</summary>
    public ClientDisplay Display { get; internal set; }

    internal ISessionClient Client { get; }

    /// <summary>Serialises the stores of <see cref="Display"/> into the session's record.</summary>
    internal SemaphoreSlim DisplayWrite { get; } = new(1, 1);
}

/// <summary>Why a connect was refused, in words the client can show.</summary>
public sealed class SessionRefusedException(string message) : Exception(message);
