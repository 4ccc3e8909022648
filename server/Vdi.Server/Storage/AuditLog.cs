namespace Vdi.Server.Storage;

/// <summary>Writes audit entries; callers pass the context they already use so the entry commits with their change.</summary>
public sealed class AuditLog(TimeProvider time)
{
    public void Add(VdiDbContext db, string? userId, string action, string detail) =>
        db.Audit.Add(new AuditRecord { At = time.GetUtcNow(), UserId = userId, Action = action, Detail = detail });
}
