using System.Diagnostics;

namespace Vdi.Server.Tests.Storage;

/// <summary>
/// A database the broker cannot use stops it with one line that says what to fix, not a stack trace: the real server
/// process (<c>dotnet Vdi.Server.dll</c>), its standard error and exit code.
/// </summary>
public sealed class StorageErrorTests
{
    [Theory]
    [InlineData("an unknown provider", "Vdi:Storage:Provider is 'Mongo'; it must be Sqlite or Postgres", "--Vdi:Storage:Provider=Mongo")]
    [InlineData("no connection string", "Vdi:Storage:Provider is Postgres but Vdi:Storage:ConnectionString is empty", "--Vdi:Storage:Provider=Postgres")]
    [InlineData("nothing listening", "cannot use the PostgreSQL database 'vdi' on 127.0.0.1:1 as 'vdi'", "--Vdi:Storage:Provider=Postgres",
        "--Vdi:Storage:ConnectionString=Host=127.0.0.1;Port=1;Database=vdi;Username=vdi;Password=secret-pa55;Timeout=3")]
    [InlineData("a cluster without PostgreSQL", "Vdi:Cluster:Enabled needs the database the hosts share", "--Vdi:Cluster:Enabled=true")]
    [InlineData("a proxy network that is not one", "Vdi:Proxy:TrustedNetworks: 'nowhere' is not a network", "--Vdi:Proxy:TrustedNetworks:0=nowhere")]
    [InlineData("a certificate that is not there", "cannot load Vdi:DataProtection:CertificatePath '/nonexistent/keys.pfx'", "--Vdi:DataProtection:CertificatePath=/nonexistent/keys.pfx")]
    public async Task A_broker_that_cannot_use_its_database_says_why_in_one_line(string _, string expected, params string[] settings)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        try
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
            foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "Vdi.Server.dll"), "--urls=http://127.0.0.1:0", $"--Vdi:Storage:DataDirectory={folder}", .. settings])
                info.ArgumentList.Add(a);
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            var lines = (await errors).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1, $"standard error: {await errors}\nstandard output: {await output}");
            Assert.StartsWith("Vdi: ", lines[0], StringComparison.Ordinal);
            Assert.Contains(expected, lines[0], StringComparison.Ordinal);
            Assert.DoesNotContain("secret-pa55", lines[0], StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", await output, StringComparison.Ordinal);
            Assert.Equal(1, process.ExitCode);
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }
}
