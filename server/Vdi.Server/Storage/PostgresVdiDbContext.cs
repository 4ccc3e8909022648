using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Vdi.Server.Storage;

/// <summary>The database several hosts share: migrations in Storage/Migrations/Postgres.</summary>
public sealed class PostgresVdiDbContext(DbContextOptions<PostgresVdiDbContext> options) : VdiDbContext(options)
{
    /// <summary>timestamptz holds instants: every value is written in UTC (Npgsql refuses other offsets).</summary>
    protected override ValueConverter TimeConverter { get; } =
        new ValueConverter<DateTimeOffset, DateTimeOffset>(v => v.ToUniversalTime(), v => v.ToUniversalTime());

    public static PostgresVdiDbContext Open(string connectionString) =>
        new(new DbContextOptionsBuilder<PostgresVdiDbContext>().UseNpgsql(connectionString).Options);
}

/// <summary>For <c>dotnet ef migrations add … --context PostgresVdiDbContext</c>: the model; no server is reached.</summary>
internal sealed class PostgresVdiDbContextDesignFactory : IDesignTimeDbContextFactory<PostgresVdiDbContext>
{
    public PostgresVdiDbContext CreateDbContext(string[] args) => PostgresVdiDbContext.Open("Host=localhost;Database=vdi");
}
