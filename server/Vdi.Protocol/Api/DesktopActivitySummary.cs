namespace Vdi.Protocol;

/// <summary>What a desktop sends its viewers now, as listed by <c>GET /api/desktops/activity</c> (administrators).</summary>
/// <param name="DesktopId">The desktop's id.</param>
/// <param name="FramesPerSecond">Frames sent to all its viewers together, per second over the last few seconds.</param>
/// <param name="BytesPerSecond">Encoded bytes in those frames, per second over the same seconds.</param>
/// <param name="LiveSessions">Sessions connected to it now (shadows included).</param>
public sealed record DesktopActivitySummary(Guid DesktopId, double FramesPerSecond, double BytesPerSecond, int LiveSessions);
