namespace Vdi.Protocol;

/// <summary>A session, live or ended, as listed by the session and admin endpoints.</summary>
/// <param name="Id">The session's id.</param>
/// <param name="DesktopId">The desktop it is (or was) connected to.</param>
/// <param name="UserName">The user who opened it.</param>
/// <param name="ClientName">The device label the client gave, if any.</param>
/// <param name="Display">The display the client last reported.</param>
/// <param name="StartedAt">When the session was created.</param>
/// <param name="EndedAt">When it ended; null while live.</param>
/// <param name="EndReason">One of <see cref="SessionEndReasons"/> once ended.</param>
/// <param name="IsShadow">True for a view-only admin shadow of someone else's session.</param>
/// <param name="DesktopName">The desktop's name; null once the desktop was deleted.</param>
public sealed record SessionSummary(
    Guid Id,
    Guid DesktopId,
    string UserName,
    string? ClientName,
    ClientDisplay Display,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    string? EndReason,
    bool IsShadow,
    string? DesktopName = null);
