using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Vdi.Server.Storage;

/// <summary>The broker's database: identities, desktops, sessions and the audit log.</summary>
public sealed class VdiDbContext(DbContextOptions<VdiDbContext> options) : IdentityDbContext<IdentityUser>(options)
{
    public DbSet<DesktopRecord> Desktops => Set<DesktopRecord>();

    public DbSet<SessionRecord> Sessions => Set<SessionRecord>();

    public DbSet<AuditRecord> Audit => Set<AuditRecord>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.Entity<DesktopRecord>(e =>
        {
            e.HasIndex(d => d.Name).IsUnique();
            e.Property(d => d.Name).HasMaxLength(64);
            e.Property(d => d.Integrity).HasMaxLength(8).HasDefaultValue(Protocol.IntegrityLevels.Enforce);
        });
        builder.Entity<SessionRecord>(e =>
        {
            e.HasIndex(s => s.DesktopId);
            e.HasIndex(s => s.ConnectTokenHash).IsUnique();
            e.HasIndex(s => s.CreatedAt); // the session lists page newest first
        });
        // SQLite cannot order by DateTimeOffset; store them as UTC ticks.
        foreach (var entity in builder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties().Where(p => p.ClrType == typeof(DateTimeOffset) || p.ClrType == typeof(DateTimeOffset?)))
                property.SetValueConverter(new Microsoft.EntityFrameworkCore.Storage.ValueConversion.DateTimeOffsetToBinaryConverter());
        }
    }
}
