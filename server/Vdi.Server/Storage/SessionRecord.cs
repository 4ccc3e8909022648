namespace Vdi.Server.Storage;

/// <summary>A session: who opened which desktop from what client and display, and how it ended.</summary>
public sealed class SessionRecord
{
    public Guid Id { get; set; }

    public Guid DesktopId { get; set; }

    public required string UserId { get; set; }

    public string? ClientName { get; set; }

    public bool Shadow { get; set; }

    public int Width { get; set; }

    public int Height { get; set; }

    public double DevicePixelRatio { get; set; }

    public double Dpi { get; set; }

    public double? WidthMm { get; set; }

    public double? HeightMm { get; set; }

    public double? RefreshHz { get; set; }

    /// <summary>SHA-256 of the single-use connect token (the token itself is never stored).</summary>
    public required string ConnectTokenHash { get; set; }

    public DateTimeOffset ConnectTokenExpiresAt { get; set; }

    public bool ConnectTokenUsed { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public string? EndReason { get; set; }
}
