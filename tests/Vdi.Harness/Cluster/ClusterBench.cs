using System.Diagnostics;
using System.Net.Http.Json;
using Vdi.Benchmarks;
using Vdi.Protocol;
using Vdi.Tests.Shared;

namespace Vdi.Harness.Cluster;

/// <summary>
/// <c>vdi-harness cluster</c>: three hosts of one cluster on this machine (broker processes on loopback, a real
/// PostgreSQL), with the product's failure detection. Prints, per sample and as medians:
/// placing and starting a desktop (request → Running → first frame through another host), and a host's death
/// (SIGKILL → declared dead → its desktop Running on another host → a new session's first frame through a host that
/// is left), and draining the built-in desktop's host while Chromium, through another host, shows that desktop and
/// types into it (drain request → answer, the desktops it moved, the longest gap between two frames drawn on the canvas
/// from the request until 500 ms after the page is connected again; the reference, in the same run: the longest gap
/// over as long a stretch of typing without a drain).
/// </summary>
internal static class ClusterBench
{
    private static readonly ClientDisplay s_display = new(800, 600, 1, null, null, null, null);
    private static readonly TimeSpan s_snapshotEvery = TimeSpan.FromSeconds(5);

    /// <summary>The hosts' snapshot settings: one folder, a snapshot of each desktop every 5 s (the product's default is 5 min).</summary>
    private static string[] Snapshots(string folder) =>
        [$"--Vdi:Cluster:SnapshotDirectory={Path.Combine(folder, "snapshots")}", $"--Vdi:Cluster:SnapshotEvery={s_snapshotEvery:c}"];

    /// <summary>The running desktops' snapshots as their hosts report them, until <paramref name="count"/> of them were taken.</summary>
    private static async Task<string> SnapshotFiguresAsync(ClusterHost via, int count)
    {
        var seen = new Dictionary<(Guid, DateTimeOffset), SnapshotSummary>();
        await Until(async () =>
        {
            foreach (var d in (await via.Api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops"))!)
                if (d.Snapshot is { PausedMs: not null } s)
                    seen[(d.Id, s.TakenAt)] = s;
            return seen.Count >= count;
        }, TimeSpan.FromSeconds(120));
        var taken = seen.Values.ToList();
        return $"live snapshot of a 256 MiB desktop (median of {taken.Count}): guest paused {Stats.Median([.. taken.Select(t => t.PausedMs!.Value)]):F1} ms, " +
            $"taken in {Stats.Median([.. taken.Select(t => t.TotalMs!.Value)]):F0} ms, {Stats.Median([.. taken.Select(t => (double)t.Bytes)]) / 1048576:F1} MiB";
    }

    public static async Task<int> RunAsync(bool quick, int? runs, int? deaths)
    {
        var placements = runs ?? (quick ? 2 : 5);
        var kills = deaths ?? (quick ? 1 : 3);
        var drains = quick ? 1 : 3;
        await using var database = await PostgresServer.CreateDatabaseAsync();
        // Short: each desktop's host socket lies below it, and a socket path may not pass 108 characters.
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-bc-{Guid.NewGuid().ToString("N")[..8]}");
        var hosts = new Dictionary<string, ClusterHost>();
        Console.WriteLine($"vdi-harness cluster: {Environment.ProcessorCount} cores; 3 hosts on loopback, PostgreSQL; failure detection as shipped (probe 5 s, 3 missed); a live snapshot of each desktop every {s_snapshotEvery.TotalSeconds:F0} s in a shared folder");
        try
        {
            hosts["host-a"] = await ClusterHost.StartAsync("host-a", folder, database.ConnectionString, Snapshots(folder));
            var builtIn = await WaitAsync(hosts["host-a"], d => d.Name == "Built-in desktop" && d.State == "Running", TimeSpan.FromSeconds(120));
            foreach (var name in new[] { "host-b", "host-c" })
                hosts[name] = await ClusterHost.StartAsync(name, folder, database.ConnectionString, Snapshots(folder));
            await ActiveAsync(hosts["host-a"], 3);

            var running = new List<double>();
            var served = new List<double>();
            for (var i = 0; i < placements; i++)
            {
                var via = hosts.Values.ElementAt(i % hosts.Count);
                var at = Stopwatch.GetTimestamp();
                var created = await via.Api.PostAsJsonAsync("api/desktops", new { name = $"bench-{i}", vcpus = 1, memoryMiB = 256 });
                created.EnsureSuccessStatusCode();
                var id = (await created.Content.ReadFromJsonAsync<DesktopSummary>())!.Id;
                var desktop = await WaitAsync(via, d => d.Id == id && d.State == "Running", TimeSpan.FromSeconds(120));
                running.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                await FirstFrameAsync(hosts.Values.First(h => h.Name != desktop.Host), id);
                served.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                Console.WriteLine($"  place and start bench-{i} (asked {via.Name}): on {desktop.Host}, Running after {running[^1]:F0} ms, first frame through another host after {served[^1]:F0} ms");
            }

            var drained = await DrainBench.RunAsync(hosts, builtIn.Id, drains);
            var snapshotted = await SnapshotFiguresAsync(hosts["host-a"], quick ? 3 : 8);

            var dead = new List<double>();
            var again = new List<double>();
            var serving = new List<double>();
            for (var k = 0; k < kills; k++)
            {
                var victim = hosts[(await Get(hosts.Values.First(), builtIn.Id)).Host!];
                var survivor = hosts.Values.First(h => h != victim);
                var at = Stopwatch.GetTimestamp();
                await victim.KillAsync();
                await Until(async () => (await survivor.Api.GetFromJsonAsync<List<HostSummary>>("api/hosts"))!.Any(h => h.Name == victim.Name && h.State == "Dead"), TimeSpan.FromSeconds(120));
                dead.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                await WaitAsync(survivor, d => d.Id == builtIn.Id && d.State == "Running" && d.Host != victim.Name, TimeSpan.FromSeconds(120));
                again.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                await FirstFrameAsync(survivor, builtIn.Id);
                serving.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                var restored = (await survivor.Api.GetFromJsonAsync<List<AuditEntry>>("api/audit?q=restarted-elsewhere"))!.FirstOrDefault()?.Detail.Contains("from its snapshot", StringComparison.Ordinal) == true;
                Console.WriteLine($"  {victim.Name} killed (it ran the built-in desktop): declared dead after {dead[^1]:F0} ms, the desktop Running on another host after {again[^1]:F0} ms ({(restored ? "restored from its snapshot" : "booted afresh")}), serving a new session after {serving[^1]:F0} ms");
                await victim.DisposeAsync();
                hosts[victim.Name] = await ClusterHost.StartAsync(victim.Name, folder, database.ConnectionString, Snapshots(folder));
                await ActiveAsync(survivor, 3);
            }

            Console.WriteLine();
            Console.WriteLine($"place and start a desktop (median of {placements}): Running {Stats.Median(running):F0} ms, first frame through another host {Stats.Median(served):F0} ms");
            Console.WriteLine($"host death (median of {kills}): declared dead {Stats.Median(dead):F0} ms, its desktop Running elsewhere {Stats.Median(again):F0} ms, serving again {Stats.Median(serving):F0} ms");
            Console.WriteLine(drained);
            Console.WriteLine(snapshotted);
            return 0;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException or Microsoft.Playwright.PlaywrightException)
        {
            Console.Error.WriteLine($"vdi-harness cluster: {e.Message}");
            foreach (var host in hosts.Values)
                Console.Error.WriteLine($"---- {host.Name}\n{Failures(host.Output)}{host.Output[^Math.Min(host.Output.Length, 2000)..]}");
            return 1;
        }
        finally
        {
            foreach (var host in hosts.Values)
                await host.DisposeAsync();
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A session made through <paramref name="via"/>, its hub connection too, until the first frame.</summary>
    private static async Task FirstFrameAsync(ClusterHost via, Guid desktop)
    {
        var created = await via.Api.PostAsJsonAsync("api/sessions", new CreateSessionRequest(desktop, s_display, "bench"));
        created.EnsureSuccessStatusCode();
        var session = (await created.Content.ReadFromJsonAsync<CreateSessionResponse>())!;
        await using var viewer = await HubViewer.ConnectAsync(via.BaseAddress, via.Cookies, session.ConnectToken, s_display, paint: false, desktop);
        await viewer.FrameOfAsync(s_display.Width, s_display.Height);
    }

    /// <summary>Each "fail:" entry of a host's log with the first lines of its exception (the tail alone may miss them).</summary>
    private static string Failures(string output)
    {
        var lines = output.Split('\n');
        var found = new System.Text.StringBuilder();
        for (var i = 0; i < lines.Length; i++)
            if (lines[i].StartsWith("fail:", StringComparison.Ordinal) && !lines[Math.Min(i + 2, lines.Length - 1)].Contains("__EFMigrationsHistory", StringComparison.Ordinal))
                found.AppendJoin('\n', lines[i..Math.Min(i + 6, lines.Length)]).Append("\n...\n");
        return found.ToString();
    }

    internal static async Task<DesktopSummary> Get(ClusterHost via, Guid id) => (await via.Api.GetFromJsonAsync<DesktopSummary>($"api/desktops/{id}"))!;

    private static async Task<DesktopSummary> WaitAsync(ClusterHost via, Func<DesktopSummary, bool> done, TimeSpan timeout)
    {
        DesktopSummary? found = null;
        await Until(async () => (found = (await via.Api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops"))!.FirstOrDefault(done)) is not null, timeout);
        return found!;
    }

    private static Task ActiveAsync(ClusterHost via, int count) =>
        Until(async () => (await via.Api.GetFromJsonAsync<List<HostSummary>>("api/hosts"))!.Count(h => h.State == "Active") == count, TimeSpan.FromSeconds(120));

    private static async Task Until(Func<Task<bool>> done, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!await done())
        {
            if (Stopwatch.GetTimestamp() > deadline)
                throw new TimeoutException($"not within {timeout.TotalSeconds} s");
            await Task.Delay(20);
        }
    }
}
