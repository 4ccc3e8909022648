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
/// Desktops in sandboxed host processes of their own (<c>Vdi:Desktops:Isolation=Process</c>), whatever this run's
/// default: a host that dies — killed, or killed by seccomp for a call it may not make — takes down its desktop
/// alone, with the reason, and the desktop restarts; the host's folder and sandbox leave the data folder out.
/// </summary>
public sealed class DesktopProcessTests : IDisposable
{
    private static readonly ClientDisplay s_laptop = new(1280, 720, 1, null, null, null, null);
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private readonly BrokerFactory _factory = new(runningDesktops: true, settings: new Dictionary<string, string?>
    {
        ["Vdi:Desktops:Isolation"] = "Process",
        ["Vdi:Desktops:TestHooks"] = "true",
    });

    [Fact]
    public async Task A_killed_host_process_crashes_its_desktop_alone_its_viewer_is_told_and_a_restart_brings_it_back()
    {
        var api = await _factory.SignedInAsync();
        var (victim, other) = await TwoRunningDesktopsAsync(api);
        var pool = _factory.Services.GetRequiredService<DesktopPool>();

        await using var victimViewer = await LiveViewer.OpenAsync(_factory, api, victim, s_laptop);
        await victimViewer.FrameOfAsync(1280, 720);
        await using var otherViewer = await LiveViewer.OpenAsync(_factory, api, other, s_laptop);
        await otherViewer.FrameOfAsync(1280, 720);

        var pid = pool.Get(victim)!.HostProcessId;
        Assert.NotNull(pid);
        Assert.NotEqual(Environment.ProcessId, pid);
        using (var host = Process.GetProcessById(pid.Value))
            host.Kill(); // SIGKILL

        var crashed = await WaitForAsync(api, victim, "Crashed");
        Assert.Contains("killed by signal 9", crashed.StateReason, StringComparison.Ordinal);
        var ended = await victimViewer.Ended.WaitAsync(s_wait);
        Assert.Equal("desktop-stopped", ended.Reason);
        Assert.Contains("crashed", ended.Message, StringComparison.Ordinal);
        Assert.Contains("killed by signal 9", ended.Message, StringComparison.Ordinal);

        // The other desktop serves on: its full-motion panel keeps sending frames.
        Assert.True(pool.Get(other)!.Desktop!.SetMotion(true));
        var before = otherViewer.FrameCount;
        await UntilAsync(() => otherViewer.FrameCount >= before + 5, "frames from the other desktop");
        Assert.False(otherViewer.Ended.IsCompleted);
        Assert.Equal("Running", (await api.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{other}"))!.State);

        (await api.PostAsync($"/api/desktops/{victim}/restart", null)).EnsureSuccessStatusCode();
        await WaitForAsync(api, victim, "Running");
        Assert.NotEqual(pid, pool.Get(victim)!.HostProcessId);
        await using var again = await LiveViewer.OpenAsync(_factory, api, victim, s_laptop);
        await again.FrameOfAsync(1280, 720);
    }

    [Fact]
    public async Task A_forbidden_call_inside_the_host_crashes_the_desktop_naming_the_call_and_the_other_serves_on()
    {
        var api = await _factory.SignedInAsync();
        var (victim, other) = await TwoRunningDesktopsAsync(api);
        var pool = _factory.Services.GetRequiredService<DesktopPool>();
        await using var otherViewer = await LiveViewer.OpenAsync(_factory, api, other, s_laptop);
        await otherViewer.FrameOfAsync(1280, 720);

        var remote = Assert.IsType<RemoteDesktop>(pool.Get(victim)!.Desktop);
        await UntilAsync(() => remote.SandboxReport is not null, "the sandbox report");
        Assert.True(remote.SendTestForbiddenCall("ptrace"));

        var crashed = await WaitForAsync(api, victim, "Crashed");
        Assert.Contains("killed by seccomp: system call 101 (ptrace)", crashed.StateReason, StringComparison.Ordinal);
        Assert.True(pool.Get(other)!.Desktop!.SetMotion(true));
        var before = otherViewer.FrameCount;
        await UntilAsync(() => otherViewer.FrameCount >= before + 5, "frames from the other desktop");
    }

    [Fact]
    public async Task Each_host_gets_a_private_folder_outside_the_data_folder_and_the_sandbox_which_the_summary_shows()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var host = _factory.Services.GetRequiredService<DesktopPool>().Get(desktop.Id)!;
        var options = host.HostOptions!;

        Assert.True(options.Sandbox); // the host's mount namespace holds the runtime, the app and its own folder only
        var folder = Path.GetFullPath(options.WorkDirectory);
        var data = Path.GetFullPath(_factory.DataDirectory);
        Assert.False(HostDirectories.IsInside(folder, data), $"{folder} is inside {data}");
        Assert.False(HostDirectories.IsInside(data, folder), $"{data} is inside {folder}");
        Assert.EndsWith(desktop.Id.ToString("N"), folder, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        Assert.True(options.MemoryLimitMiB > desktop.MemoryMiB);
        Assert.Equal(desktop.Vcpus * 100 + 50, options.CpuLimitPercent);

        await UntilAsync(() => host.Sandbox is not null, "the sandbox report");
        var summary = (await api.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{desktop.Id}"))!;
        Assert.NotNull(summary.Sandbox);
        Assert.Matches("^(Full|Partial|None)\n", summary.Sandbox);
        Assert.Contains("seccomp:", summary.Sandbox, StringComparison.Ordinal);

        // A host folder inside the data folder is refused.
        Assert.Throws<InvalidOperationException>(() => HostDirectories.Create(new DesktopOptions { HostDirectory = Path.Combine(data, "hosts"), DataDirectory = data }, Guid.NewGuid()));
    }

    internal static async Task<(Guid Victim, Guid Other)> TwoRunningDesktopsAsync(HttpClient api)
    {
        var builtIn = await WaitForAsync(api, null, "Running");
        var created = await api.PostAsJsonAsync("/api/desktops", new CreateDesktopRequest("Second", 1, 256, 1920, 1080));
        created.EnsureSuccessStatusCode();
        var second = (await created.Content.ReadFromJsonAsync<DesktopSummary>())!;
        await WaitForAsync(api, second.Id, "Running");
        return (builtIn.Id, second.Id);
    }

    internal static async Task<DesktopSummary> WaitForAsync(HttpClient api, Guid? id, string state)
    {
        var deadline = DateTime.UtcNow + s_wait;
        DesktopSummary? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var desktops = (await api.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!;
            last = id is null ? desktops.FirstOrDefault(d => d.Name == DesktopPool.BuiltInName) : desktops.FirstOrDefault(d => d.Id == id);
            if (last?.State == state)
                return last;
            if (state == "Running" && last?.State is "Failed" or "Crashed")
                throw new InvalidOperationException($"{last.Name} is {last.State}: {last.StateReason}");
            await Task.Delay(50);
        }
        throw new TimeoutException($"not {state} within {s_wait.TotalSeconds} s (last: {last?.State} {last?.StateReason})");
    }

    internal static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no {what} within {s_wait.TotalSeconds} s");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}

/// <summary>
/// <c>Vdi:Desktops:RestartOnCrash</c>: a desktop whose host is killed comes back by itself on a new host, up to the
/// limit; past it, it stays Crashed and says that automatic restarts gave up.
/// </summary>
public sealed class RestartOnCrashTests : IDisposable
{
    private readonly BrokerFactory _factory = new(runningDesktops: true, settings: new Dictionary<string, string?>
    {
        ["Vdi:Desktops:Isolation"] = "Process",
        ["Vdi:Desktops:RestartOnCrash"] = "true",
        ["Vdi:Desktops:MaxAutomaticRestarts"] = "1",
        ["Vdi:Desktops:AutomaticRestartDelay"] = "00:00:00.2",
    });

    [Fact]
    public async Task A_killed_host_restarts_by_itself_until_the_limit_then_the_desktop_stays_Crashed_saying_why()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var host = _factory.Services.GetRequiredService<DesktopPool>().Get(desktop.Id)!;
        var first = host.HostProcessId!.Value;
        HostProcess.Find(first)!.Value.Kill();

        // Back by itself, on a new host process.
        await HostReattachTests.UntilAsync(() => host.State == DesktopState.Running && host.HostProcessId is { } pid && pid != first,
            $"an automatic restart (state {host.State}: {host.StateReason})");
        var second = host.HostProcessId!.Value;

        // The second crash within the window is past the limit of one.
        HostProcess.Find(second)!.Value.Kill();
        await HostReattachTests.UntilAsync(() => host.State == DesktopState.Crashed && host.StateReason?.Contains("gave up", StringComparison.Ordinal) == true,
            $"the automatic restarts giving up (state {host.State}: {host.StateReason})");
        var summary = (await api.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{desktop.Id}"))!;
        Assert.Equal("Crashed", summary.State);
        Assert.Contains("killed by signal 9", summary.StateReason, StringComparison.Ordinal);
        Assert.Contains("automatic restarts gave up after 1 within 10 minutes", summary.StateReason, StringComparison.Ordinal);

        // A restart by hand still works.
        (await api.PostAsync($"/api/desktops/{desktop.Id}/restart", null)).EnsureSuccessStatusCode();
        await HostReattachTests.UntilAsync(() => host.State == DesktopState.Running, "a restart by hand");
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}

/// <summary>Desktops in the broker's own process (<c>Isolation=InProcess</c>), whatever this run's default: they run, serve frames and report no sandbox.</summary>
public sealed class InProcessDesktopTests : IDisposable
{
    private readonly BrokerFactory _factory = new(runningDesktops: true, settings: new Dictionary<string, string?> { ["Vdi:Desktops:Isolation"] = "InProcess" });

    [Fact]
    public async Task An_in_process_desktop_serves_frames_under_the_machine_lease_and_has_no_sandbox()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var host = _factory.Services.GetRequiredService<DesktopPool>().Get(desktop.Id)!;
        Assert.IsType<LocalDesktop>(host.Desktop);
        Assert.NotNull(host.LocalMachine);
        Assert.Null(host.HostProcessId);
        Assert.Null(desktop.Sandbox);

        await using var viewer = await LiveViewer.OpenAsync(_factory, api, desktop.Id, new ClientDisplay(1024, 768, 1, null, null, null, null));
        await viewer.FrameOfAsync(1024, 768);
        var thumbnail = await api.GetAsync($"/api/desktops/{desktop.Id}/thumbnail");
        thumbnail.EnsureSuccessStatusCode();

        (await api.PostAsync($"/api/desktops/{desktop.Id}/stop", null)).EnsureSuccessStatusCode();
        var ended = await viewer.Ended.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("desktop-stopped", ended.Reason);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
