using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;
using Vdi.Server.Tests.Hubs;
using Vdi.Vmm.Host;

namespace Vdi.Server.Tests.Desktops;

/// <summary>
/// Host processes across broker restarts: a broker killed with SIGKILL leaves its desktops running and a new broker
/// on the same folders takes them back, also when the desktop had migrated to a new host; records that do not lead to a host of ours are cleaned up without harming any
/// other process; a host that stops answering is ended.
/// </summary>
public sealed class HostReattachTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private readonly string _data = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
    private readonly string _hosts = Path.Combine(Path.GetTempPath(), $"vdi-test-hosts-{Guid.NewGuid():N}");
    private readonly List<HostProcess> _spawned = []; // ended at the end, each only if still that very process

    /// <param name="letGo">The first broker shuts down gracefully with KeepRunningOnShutdown, rather than being killed.</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_broker_killed_with_SIGKILL_or_letting_go_leaves_its_desktop_running_and_the_next_broker_reattaches_to_the_same_host(bool letGo)
    {
        var settings = new[] { "--Vdi:Desktops:ReattachSeconds=30" };
        HostProcess host;
        Guid id;
        await using (var first = await BrokerProcess.StartAsync(_data, _hosts, [.. settings, $"--Vdi:Desktops:KeepRunningOnShutdown={letGo}"]))
        {
            using var api = await first.SignedInAsync();
            id = (await first.WaitForBuiltInAsync(api, "Running", s_wait)).Id;
            var record = HostRecord.Read(Path.Combine(_hosts, id.ToString("N")));
            Assert.NotNull(record);
            host = record.Process;
            _spawned.Add(host);
            Assert.True(host.IsAlive, "the recorded host runs");
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_hosts, id.ToString("N"), HostRecord.FileName)));
            if (letGo)
            {
                var code = await first.StopAsync(s_wait);
                Assert.True(code == 0, $"the broker exited {code}:\n{first.Output}");
            }
            else
                await first.KillAsync();
        }
        // Its broker is gone (and with it the other end of its stdout and stderr): the host waits for a new one.
        Assert.True(host.IsAlive, "the host died with its broker");

        await using var second = await BrokerProcess.StartAsync(_data, _hosts, settings);
        using var api2 = await second.SignedInAsync();
        var desktop = await second.WaitForBuiltInAsync(api2, "Running", s_wait);
        Assert.Equal(id, desktop.Id);
        Assert.True(host.IsAlive, $"the host did not survive its broker's death\n{second.Output}");
        Assert.Equal(host, HostRecord.Read(Path.Combine(_hosts, id.ToString("N")))!.Process);
        Assert.Contains("reattached to its host process", second.Output, StringComparison.Ordinal);

        // The reattached desktop serves a new session: its display request is carried out and frames arrive.
        var display = new ClientDisplay(1024, 768, 1, null, null, null, null);
        var (sessionId, token) = await LiveViewer.CreateAsync(api2, id, display, "after restart");
        await using (var viewer = await LiveViewer.ConnectAsync(second.Hub(await second.SignInCookieAsync()), sessionId, token, display))
            await viewer.FrameOfAsync(1024, 768);

        // A graceful stop of the broker (KeepRunningOnShutdown is off) ends its hosts: none is left.
        await second.StopAsync(s_wait);
        Assert.True(await host.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the host outlived a broker that shut down");
        Assert.False(Directory.Exists(Path.Combine(_hosts, id.ToString("N"))), "the host's folder and record are removed");
    }

    [Fact]
    public async Task A_desktop_migrated_before_its_broker_was_killed_is_reattached_on_the_host_it_moved_to()
    {
        var settings = new[] { "--Vdi:Desktops:ReattachSeconds=30" };
        HostProcess source, destination;
        Guid id;
        await using (var first = await BrokerProcess.StartAsync(_data, _hosts, settings))
        {
            using var api = await first.SignedInAsync();
            id = (await first.WaitForBuiltInAsync(api, "Running", s_wait)).Id;
            source = HostRecord.Read(Path.Combine(_hosts, id.ToString("N")))!.Process;
            _spawned.Add(source);

            (await api.PostAsync($"/api/desktops/{id}/migrate", null)).EnsureSuccessStatusCode();
            MigrationStatus? status = null;
            for (var deadline = DateTime.UtcNow + s_wait; status is not { IsRunning: false }; await Task.Delay(50))
            {
                Assert.True(DateTime.UtcNow < deadline, $"the migration did not end: {status}");
                status = await api.GetFromJsonAsync<MigrationStatus>($"/api/desktops/{id}/migration");
            }
            Assert.True(status.Result == MigrationStatus.Succeeded, $"{status}\n{first.Output}");
            destination = HostRecord.Read(Path.Combine(_hosts, id.ToString("N")))!.Process;
            _spawned.Add(destination);
            Assert.NotEqual(source, destination);
            Assert.True(await source.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the source host outlived the migration");
            await first.KillAsync();
        }
        Assert.True(destination.IsAlive, "the host the desktop moved to died with its broker");

        await using var second = await BrokerProcess.StartAsync(_data, _hosts, settings);
        using var api2 = await second.SignedInAsync();
        Assert.Equal(id, (await second.WaitForBuiltInAsync(api2, "Running", s_wait)).Id);
        Assert.Equal(destination, HostRecord.Read(Path.Combine(_hosts, id.ToString("N")))!.Process);
        Assert.Contains("reattached to its host process", second.Output, StringComparison.Ordinal);

        // The desktop on the received host serves a new session: its display request is carried out and frames arrive.
        var display = new ClientDisplay(1024, 768, 1, null, null, null, null);
        var (sessionId, token) = await LiveViewer.CreateAsync(api2, id, display, "after migration and restart");
        await using (var viewer = await LiveViewer.ConnectAsync(second.Hub(await second.SignInCookieAsync()), sessionId, token, display))
            await viewer.FrameOfAsync(1024, 768);
        await second.StopAsync(s_wait);
        Assert.True(await destination.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the host outlived a broker that shut down");
    }

    [Fact]
    public async Task Stale_records_are_cleaned_up_a_silent_host_is_ended_and_no_other_process_is_ever_signalled()
    {
        // The database and its built-in desktop, from a first broker that never ran a desktop.
        Guid builtIn;
        using (var setup = new BrokerFactory(_data, autoStart: false))
        {
            var api = await setup.SignedInAsync();
            builtIn = (await api.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!.Single().Id;
        }

        // The built-in desktop's host: alive, a real `serve` on its socket, but stopped (SIGSTOP): it cannot answer.
        var silentFolder = Folder(builtIn);
        var launched = await RemoteDesktop.LaunchAsync(new RemoteDesktopOptions
        {
            WorkDirectory = silentFolder, Engine = Vmm.Execution.EngineChoice.Software, ReconnectSeconds = 60, MemoryMiB = 128,
        });
        var silent = HostProcess.Find(launched.ProcessId!.Value)!.Value;
        _spawned.Add(silent);
        launched.Detach();
        await launched.DisposeAsync();
        Signal(silent.Pid, "STOP");
        Write(silentFolder, silent);

        // Unknown desktops' folders: a process that is gone, and live processes that are not hosts — one whose start
        // time differs (its pid was reused), one whose start time matches but is not a `serve` for that socket.
        var gone = Spawn("true");
        await gone.WaitForExitAsync();
        var goneFolder = Folder(Guid.NewGuid());
        Write(goneFolder, new HostProcess(gone.Id, 1));
        var reused = Spawn("sleep", "120");
        var reusedProcess = HostProcess.Find(reused.Id)!.Value;
        var reusedFolder = Folder(Guid.NewGuid());
        Write(reusedFolder, reusedProcess with { StartTime = reusedProcess.StartTime + 1 });
        var unrelated = Spawn("sleep", "120");
        var unrelatedProcess = HostProcess.Find(unrelated.Id)!.Value;
        var unrelatedFolder = Folder(Guid.NewGuid());
        Write(unrelatedFolder, unrelatedProcess);
        // Another broker's desktop (another data folder) in the same host root: not this broker's to end.
        var othersFolder = Folder(Guid.NewGuid());
        HostRecord.Write(othersFolder, unrelatedProcess, Path.Combine(othersFolder, "host.sock"), "/elsewhere/data", DateTimeOffset.UtcNow);

        using var factory = new BrokerFactory(_data, autoStart: false, settings: new Dictionary<string, string?>
        {
            ["Vdi:Desktops:Isolation"] = "Process",
            ["Vdi:Desktops:HostDirectory"] = _hosts,
            ["Vdi:Desktops:ReattachSeconds"] = "30",
        });
        var api2 = await factory.SignedInAsync();
        await UntilAsync(() => !Directory.Exists(silentFolder) && !Directory.Exists(goneFolder) && !Directory.Exists(reusedFolder) && !Directory.Exists(unrelatedFolder),
            "the stale folders removed");
        Assert.True(await silent.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the silent host was not ended");
        Assert.True(reusedProcess.IsAlive, "a process whose start time differs from the record was signalled");
        Assert.True(unrelatedProcess.IsAlive, "a process that is not a host was signalled");
        Assert.True(Directory.Exists(othersFolder), "another broker's host folder was touched");
        var desktop = (await api2.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{builtIn}"))!;
        Assert.Equal("Stopped", desktop.State); // not started (AutoStart is off) and not left Starting
        Assert.Null(factory.Services.GetRequiredService<DesktopPool>().Get(builtIn)!.HostProcessId);
    }

    private string Folder(Guid id)
    {
        var folder = Path.Combine(_hosts, id.ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    private void Write(string folder, HostProcess process) =>
        HostRecord.Write(folder, process, Path.Combine(folder, "host.sock"), _data, DateTimeOffset.UtcNow);

    private Process Spawn(string program, params string[] args)
    {
        var process = Process.Start(program, args);
        if (HostProcess.Find(process.Id) is { } spawned)
            _spawned.Add(spawned);
        return process;
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", $"{pid}"]);
        kill.WaitForExit();
    }

    internal static async Task UntilAsync(Func<bool> condition, string what, double seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no {what} within {seconds} s");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        foreach (var process in _spawned)
            process.Kill();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var folder in (string[])[_data, _hosts])
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }
}
