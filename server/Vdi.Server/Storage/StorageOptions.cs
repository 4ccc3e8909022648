namespace Vdi.Server.Storage;

/// <summary>Where the broker keeps its data. Bound from the "Vdi:Storage" configuration section.</summary>
public sealed class StorageOptions
{
    /// <summary>The data folder; created on first run. Defaults to ./data beside the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>An explicit SQLite connection string; by default the database is vdi.db in the data folder.</summary>
    public string? ConnectionString { get; set; }

    public string ResolveConnectionString() =>
        ConnectionString ?? $"Data Source={Path.Combine(Path.GetFullPath(DataDirectory), "vdi.db")}";
}
