using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Vdi.Server.Storage;

/// <summary>
/// The broker's database: identities, desktops, sessions and the audit log. One model, two providers: each has a
/// context of its own (<see cref="SqliteVdiDbContext"/>, <see cref="PostgresVdiDbContext"/>) so each keeps its own
/// migrations; the services ask for this type. The cookie keys are kept here too, so every host that shares the
/// database reads every host's cookies.
/// </summary>
public abstract class VdiDbContext(DbContextOptions options) : IdentityDbContext<IdentityUser>(options), IDataProtectionKeyContext
{
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<DesktopRecord> Desktops => Set<DesktopRecord>();

    public DbSet<SessionRecord> Sessions => Set<SessionRecord>();

    public DbSet<AuditRecord> Audit => Set<AuditRecord>();

    /// <summary>How the provider stores a <see cref="DateTimeOffset"/>.</summary>
    protected abstract ValueConverter TimeConverter { get; }

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.Entity<DesktopRecord>(e =>
        {
            e.HasIndex(d => d.Name).IsUnique();
            e.Property(d => d.Name).HasMaxLength(64);
            e.Property(d => d.Integrity).HasMaxLength(8).HasDefaultValue(Protocol.IntegrityLevels.Enforce);
            e.Property(d => d.HostName).HasMaxLength(150);
            e.HasIndex(d => d.HostName);
        });
        builder.Entity<SessionRecord>(e =>
        {
            e.HasIndex(s => s.DesktopId);
            e.HasIndex(s => s.ConnectTokenHash).IsUnique();
            e.HasIndex(s => s.CreatedAt); // the session lists page newest first
        });
        foreach (var entity in builder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties().Where(p => p.ClrType == typeof(DateTimeOffset) || p.ClrType == typeof(DateTimeOffset?)))
                property.SetValueConverter(TimeConverter);
        }
    }
}
