using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;

namespace Vdi.Tests.Shared;

/// <summary>
/// One host of a cluster on this machine, for the benchmark and the browser tests: <c>dotnet Vdi.Server.dll</c> (the
/// program's output) on a loopback port with its own data and host folders, PostgreSQL and the cluster's settings as a
/// user would give them (the product's failure detection unless told otherwise), signed in as the administrator.
/// </summary>
internal sealed class ClusterHost : IAsyncDisposable
{
    public const string AdminPassword = "Bench-Admin-Pa55word";

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ClusterHost(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    public CookieContainer Cookies { get; } = new();

    public HttpClient Api { get; private set; } = null!;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public static async Task<ClusterHost> StartAsync(string name, string folder, string connectionString, params string[] settings)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (var a in (string[])[
            Path.Combine(AppContext.BaseDirectory, "Vdi.Server.dll"), "--urls=http://127.0.0.1:0",
            $"--Vdi:Storage:DataDirectory={Path.Combine(folder, name, "data")}", $"--Vdi:Desktops:HostDirectory={Path.Combine(folder, name, "hosts")}",
            $"--Vdi:Admin:Password={AdminPassword}", "--Vdi:Desktops:ReattachSeconds=0",
            "--Vdi:Storage:Provider=Postgres", $"--Vdi:Storage:ConnectionString={connectionString}",
            "--Vdi:Cluster:Enabled=true", $"--Vdi:Cluster:HostName={name}", $"--Vdi:Cluster:SiloPort={FreePort()}", "--Vdi:Cluster:AdvertisedAddress=127.0.0.1",
            "--Vdi:Cluster:MigrationPort=0", // three hosts on one machine: each its own port
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information", .. settings])
            info.ArgumentList.Add(a);
        var host = new ClusterHost(name, Process.Start(info)!);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Line(string? line)
        {
            if (line is null)
                return;
            lock (host._output)
                host._output.AppendLine(line);
            const string Marker = "Now listening on: ";
            if (line.IndexOf(Marker, StringComparison.Ordinal) is var at and >= 0)
                listening.TrySetResult(new Uri(line[(at + Marker.Length)..].Trim().TrimEnd('/') + "/"));
        }
        host._process.OutputDataReceived += (_, e) => Line(e.Data);
        host._process.ErrorDataReceived += (_, e) => Line(e.Data);
        host._process.BeginOutputReadLine();
        host._process.BeginErrorReadLine();
        if (await Task.WhenAny(listening.Task, host._process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(90))) != listening.Task)
        {
            await host.DisposeAsync();
            throw new InvalidOperationException($"host {name} did not start: {host.Output}");
        }
        host.BaseAddress = await listening.Task;
        host.Api = new HttpClient(new HttpClientHandler { CookieContainer = host.Cookies }) { BaseAddress = host.BaseAddress };
        (await host.Api.PostAsJsonAsync("api/auth/sign-in", new { userName = "admin", password = AdminPassword })).EnsureSuccessStatusCode();
        return host;
    }

    /// <summary>SIGKILL, as a machine that dies.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Api?.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
