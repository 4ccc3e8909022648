using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Desktops;

/// <summary>
/// The real broker as a child process (<c>dotnet Vdi.Server.dll</c> from this test's output) on a loopback port, with
/// the data and host folders a test gives it: a broker that can be killed (SIGKILL) or stopped (SIGTERM) like one in
/// production, and started again on the same folders.
/// </summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private BrokerProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; private set; }

    public int Pid => _process.Id;

    /// <summary>What the broker wrote so far (stdout and stderr), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public static async Task<BrokerProcess> StartAsync(string dataDirectory, string hostDirectory, params string[] settings)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var a in (string[])[
            Path.Combine(AppContext.BaseDirectory, "Vdi.Server.dll"), "--urls=http://127.0.0.1:0",
            $"--Vdi:Storage:DataDirectory={dataDirectory}", $"--Vdi:Admin:Password={BrokerFactory.AdminPassword}",
            "--Vdi:Desktops:Isolation=Process", $"--Vdi:Desktops:HostDirectory={hostDirectory}",
            "--Logging:LogLevel:Default=Information", "--Logging:LogLevel:Microsoft=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
            .. settings])
            info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var broker = new BrokerProcess(process, new Uri("http://127.0.0.1/"));
        void Line(string? line)
        {
            if (line is null)
                return;
            lock (broker._output)
                broker._output.AppendLine(line);
            const string Marker = "Now listening on: ";
            if (line.IndexOf(Marker, StringComparison.Ordinal) is var at and >= 0)
                listening.TrySetResult(new Uri(line[(at + Marker.Length)..].Trim().TrimEnd('/') + "/"));
        }
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != listening.Task)
        {
            await broker.DisposeAsync();
            throw new InvalidOperationException($"the broker did not start listening: {broker.Output}");
        }
        broker.BaseAddress = await listening.Task;
        return broker;
    }

    public async Task<HttpClient> SignedInAsync()
    {
        var cookies = new CookieContainer();
        var api = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = BaseAddress };
        (await api.PostAsJsonAsync("api/auth/sign-in", new { userName = "admin", password = BrokerFactory.AdminPassword })).EnsureSuccessStatusCode();
        return api;
    }

    /// <summary>
    /// A desktop-hub connection (WebSockets, MessagePack) with the sign-in cookie, not yet started; with
    /// <paramref name="desktop"/> in its address, as the web client does (a cluster's host forwards it to the desktop's).
    /// </summary>
    public HubConnection Hub(string cookie, Guid? desktop = null) => new HubConnectionBuilder()
        .WithUrl(new Uri(BaseAddress, Vdi.Server.Hubs.DesktopHub.Path.TrimStart('/') + (desktop is { } id ? $"?desktop={id}" : "")), o =>
        {
            o.Transports = HttpTransportType.WebSockets;
            o.Headers["Cookie"] = cookie;
        })
        .AddMessagePackProtocol()
        .Build();

    /// <summary>The sign-in cookie, as a Cookie header.</summary>
    public async Task<string> SignInCookieAsync()
    {
        using var client = new HttpClient { BaseAddress = BaseAddress };
        var response = await client.PostAsJsonAsync("api/auth/sign-in", new { userName = "admin", password = BrokerFactory.AdminPassword });
        response.EnsureSuccessStatusCode();
        return string.Join("; ", response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
    }

    /// <summary>Waits for the built-in desktop to be in <paramref name="state"/>.</summary>
    public async Task<DesktopSummary> WaitForBuiltInAsync(HttpClient api, string state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        DesktopSummary? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops"))!.FirstOrDefault(d => d.Name == DesktopPool.BuiltInName);
            if (last?.State == state)
                return last;
            if (last?.State is "Failed" or "Crashed")
                throw new InvalidOperationException($"the desktop is {last.State}: {last.StateReason}\n{Output}");
            await Task.Delay(100);
        }
        throw new TimeoutException($"not {state} within {timeout.TotalSeconds} s (last: {last?.State})\n{Output}");
    }

    /// <summary>SIGKILL: the broker dies at once, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>SIGTERM: the broker shuts down gracefully; its exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", $"{_process.Id}"]))
            await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        _process.Dispose();
    }
}
