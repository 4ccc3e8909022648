namespace Vdi.Server.Storage;

/// <summary>Where the broker keeps its data. Bound from the "Vdi:Storage" configuration section.</summary>
public sealed class StorageOptions
{
    public const string Sqlite = "Sqlite";
    public const string Postgres = "Postgres";

    /// <summary>The data folder; created on first run. Defaults to ./data beside the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// <see cref="Sqlite"/> (the default: one file in the data folder, for one host) or <see cref="Postgres"/> (a
    /// database several hosts share; needs <see cref="ConnectionString"/>).
    /// </summary>
    public string Provider { get; set; } = Sqlite;

    /// <summary>The provider's connection string; for SQLite, by default vdi.db in the data folder.</summary>
    public string? ConnectionString { get; set; }

    public bool IsPostgres => string.Equals(Provider, Postgres, StringComparison.OrdinalIgnoreCase);

    /// <summary>The configured connection string, or why it is unusable (one line, naming the setting to fix).</summary>
    public string ResolveConnectionString()
    {
        if (IsPostgres)
        {
            return ConnectionString is { Length: > 0 } postgres ? postgres : throw new StorageException(
                "Vdi:Storage:Provider is Postgres but Vdi:Storage:ConnectionString is empty; set it, e.g. \"Host=db;Database=vdi;Username=vdi;Password=…\"");
        }
        if (!string.Equals(Provider, Sqlite, StringComparison.OrdinalIgnoreCase))
            throw new StorageException($"Vdi:Storage:Provider is '{Provider}'; it must be {Sqlite} or {Postgres}");
        return ConnectionString ?? $"Data Source={Path.Combine(Path.GetFullPath(DataDirectory), "vdi.db")}";
    }
}
