namespace Vdi.Protocol;

/// <summary>Answer to <see cref="CreateSessionRequest"/>: what the browser needs to open the hub connection.</summary>
/// <param name="SessionId">The new session.</param>
/// <param name="ConnectToken">Single-use token for <c>DesktopHub.Connect</c>; opaque to the client.</param>
/// <param name="TokenExpiresAt">When the token stops being accepted.</param>
public sealed record CreateSessionResponse(Guid SessionId, string ConnectToken, DateTimeOffset TokenExpiresAt);
