using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Vdi.Server.Storage;

/// <summary>The database in one file (the default): migrations in Storage/Migrations/Sqlite.</summary>
public sealed class SqliteVdiDbContext(DbContextOptions<SqliteVdiDbContext> options) : VdiDbContext(options)
{
    /// <summary>SQLite cannot order by DateTimeOffset: stored as UTC ticks.</summary>
    protected override ValueConverter TimeConverter { get; } = new DateTimeOffsetToBinaryConverter();

    public static SqliteVdiDbContext Open(string connectionString) =>
        new(new DbContextOptionsBuilder<SqliteVdiDbContext>().UseSqlite(connectionString).Options);
}

/// <summary>For <c>dotnet ef migrations add … --context SqliteVdiDbContext</c>: the model, on a scratch file.</summary>
internal sealed class SqliteVdiDbContextDesignFactory : IDesignTimeDbContextFactory<SqliteVdiDbContext>
{
    public SqliteVdiDbContext CreateDbContext(string[] args) => SqliteVdiDbContext.Open("Data Source=design-time.db");
}
