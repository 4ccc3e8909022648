using Vdi.Server;
using Vdi.Server.Storage;

try
{
    var app = VdiServer.Build(args);
    // Here rather than only as the first hosted service, so a database that cannot be used is reported in one line.
    await app.Services.GetRequiredService<StorageMigrator>().RunAsync().ConfigureAwait(false);
    VdiServer.ReportKvm(app);
    await app.RunAsync().ConfigureAwait(false);
    return 0;
}
catch (StorageException e)
{
    await Console.Error.WriteLineAsync($"Vdi: {e.Message}").ConfigureAwait(false);
    return 1;
}

/// <summary>The entry point, visible to the functional tests' WebApplicationFactory.</summary>
public partial class Program;
