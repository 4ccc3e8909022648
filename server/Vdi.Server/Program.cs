using Vdi.Server;

var app = VdiServer.Build(args);
VdiServer.ReportKvm(app);
await app.RunAsync().ConfigureAwait(false);

/// <summary>The entry point, visible to the functional tests' WebApplicationFactory.</summary>
public partial class Program;
