namespace Vdi.Server.Storage;

/// <summary>One administrative or security-relevant event.</summary>
public sealed class AuditRecord
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    public string? UserId { get; set; }

    public required string Action { get; set; }

    public required string Detail { get; set; }
}
