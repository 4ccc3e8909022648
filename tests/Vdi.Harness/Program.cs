using System.Diagnostics;
using Vdi.Harness;
using Vdi.Server.Desktops;

// The display pipeline harness: the real broker in this process, real clients (the .NET SignalR client and Chromium
// through Playwright), the built-in desktop and its workload mode. Prints median and p95 of every figure, with the
// desktops in sandboxed host processes of their own (the product's default) and in the broker's process, side by side.
//   dotnet run -c Release --project tests/Vdi.Harness [-- --quick] [-- --only startup,resize,motion,keys,bytes,scale,browser,migrate,failover]
//     [-- --isolation process|inprocess|both]   (default both)
//   (`viewers …` is the viewers' own process, started by the harness itself: ViewerHost.)
//   dotnet run -c Release --project tests/Vdi.Harness -- cluster [--quick] [--runs N] [--deaths N]   (three hosts of a cluster)
if (args.FirstOrDefault() == "viewers")
    return await ViewerHost.RunAsync(args[1..]);
// `cluster [--quick] [--runs N] [--deaths N]`: three hosts of one cluster (Cluster/ClusterBench.cs).
if (args.FirstOrDefault() == "cluster")
{
    int? Count(string option) => args.SkipWhile(a => a != option).Skip(1).FirstOrDefault() is { } v && int.TryParse(v, out var n) && n > 0 ? n : null;
    return await Vdi.Harness.Cluster.ClusterBench.RunAsync(args.Contains("--quick"), Count("--runs"), Count("--deaths"));
}

const string Usage = "usage: [--quick] [--only startup,resize,motion,keys,bytes,scale,browser,migrate,failover] [--isolation process|inprocess|both]";
var quick = args.Contains("--quick");
string? ValueOf(string option) => args.SkipWhile(a => a != option).Skip(1).FirstOrDefault();
var onlyArgument = ValueOf("--only");
var isolationArgument = ValueOf("--isolation");
var only = onlyArgument?.Split(',') ?? [];
var unknown = args.Where(a => a is not ("--quick" or "--only" or "--isolation") && a != onlyArgument && a != isolationArgument).ToList();
DesktopIsolation[]? isolations = (isolationArgument ?? "both") switch
{
    "both" => [DesktopIsolation.InProcess, DesktopIsolation.Process],
    "process" => [DesktopIsolation.Process],
    "inprocess" => [DesktopIsolation.InProcess],
    _ => null,
};
if (unknown.Count > 0 || isolations is null)
{
    Console.Error.WriteLine($"vdi-harness: unknown argument '{(unknown.Count > 0 ? unknown[0] : isolationArgument)}'; {Usage}");
    return 64;
}

// Each takes the brokers' scenarios in the order to run them and returns each one's figures.
(string Name, Func<IReadOnlyList<Scenario>, Task<IReadOnlyList<IReadOnlyList<Figure>>>> Run)[] scenarios =
[
    ("startup", InTurn("startup", StartupScenario.RunAsync)),
    ("resize", InTurn("resize", ResizeScenario.RunAsync)),
    ("motion", InTurn("motion", MotionScenario.RunAsync)),
    ("keys", KeyScenario.RunAsync), // both brokers' desktops at once, the keystrokes alternating
    ("bytes", InTurn("bytes", BytesScenario.RunAsync)),
    ("scale", InTurn("scale", ScaleScenario.RunAsync)),
    ("browser", InTurn("browser", BrowserScenario.RunAsync)),
    ("migrate", InTurn("migrate", MigrateScenario.RunAsync)), // the desktops move to new VMM instances
    ("failover", InTurn("failover", FailoverScenario.RunAsync)), // last: the desktop out of process becomes a fault-tolerant pair
];

var started = Stopwatch.GetTimestamp();
Console.WriteLine($"vdi-harness{(quick ? " --quick" : "")}: {Environment.ProcessorCount} cores; desktops {string.Join(" and ", isolations.Select(Scenario.IsolationLabel))}" +
    (isolations.Length > 1 ? ", each scenario run on both brokers in turn, the first alternating" : ""));
var runs = new List<(string Label, HarnessBroker Broker, Scenario Scenario, List<Figure> Figures)>();
try
{
    // Both brokers run from the start, each with a fresh data folder; the one not measured sits idle.
    foreach (var isolation in isolations)
    {
        var broker = await HarnessBroker.StartAsync(isolation);
        runs.Add((Scenario.IsolationLabel(isolation), broker, new Scenario(broker, await broker.RunningDesktopAsync(), quick), []));
        var host = runs[^1].Scenario.Host;
        // The sandbox's level, and the steps this machine could not apply (each says why).
        var sandbox = host.Sandbox is { } report ? $"; sandbox {SandboxSummary(report)}" : "";
        Console.WriteLine($"  {runs[^1].Label}: {host.Desktop!.Engine}{(host.HostProcessId is { } pid ? $"; host process {pid}" : "")}{sandbox}");
    }
    foreach (var (label, _, scenario, _) in runs)
    {
        var at = Stopwatch.GetTimestamp();
        await WarmUp.RunAsync(scenario);
        Console.WriteLine($"  warm-up, {label}: {Stopwatch.GetElapsedTime(at).TotalSeconds:F1} s");
    }
    var selected = scenarios.Where(x => only.Length == 0 || only.Contains(x.Name)).ToList();
    for (var i = 0; i < selected.Count; i++)
    {
        var (name, run) = selected[i];
        // Which isolation goes first alternates, so that neither always gets the machine right after the other's load.
        var order = i % 2 == 0 ? runs : [.. Enumerable.Reverse(runs)];
        var at = Stopwatch.GetTimestamp();
        var results = await run([.. order.Select(r => r.Scenario)]);
        for (var j = 0; j < order.Count; j++)
            order[j].Figures.AddRange(results[j]);
        if (name == "keys")
            Console.WriteLine($"  keys, {string.Join(" and ", order.Select(r => r.Label))}{(order.Count > 1 ? ", keystrokes alternating" : "")}: {Stopwatch.GetElapsedTime(at).TotalSeconds:F1} s");
    }
}
finally
{
    foreach (var run in runs)
        await run.Broker.DisposeAsync();
}

Console.WriteLine();
if (runs.Count == 2)
{
    SideBySide.Print(Console.Out, runs[0].Figures, runs[1].Figures);
    Console.WriteLine();
    SideBySide.PrintGoals(Console.Out, runs[0].Figures, runs[1].Figures);
}
else
{
    Console.WriteLine($"Desktops {runs[0].Label}:");
    Figures.Print(Console.Out, runs[0].Figures);
}
var all = runs.SelectMany(r => r.Figures).ToList();
var failedSamples = Figures.FailedSamples(all);
Console.WriteLine($"\n{all.Count} figures in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s" +
    (failedSamples > 0 ? $"; {failedSamples} samples timed out (counted as slower than every measured one)" : ""));
return 0;

// A scenario that measures one broker at a time, run on each in the order given.
static Func<IReadOnlyList<Scenario>, Task<IReadOnlyList<IReadOnlyList<Figure>>>> InTurn(string name, Func<Scenario, Task<IReadOnlyList<Figure>>> run) => async scenarios =>
{
    var results = new List<IReadOnlyList<Figure>>();
    foreach (var scenario in scenarios)
    {
        var at = Stopwatch.GetTimestamp();
        results.Add(await run(scenario));
        Console.WriteLine($"  {name}, {scenario.Label}: {Stopwatch.GetElapsedTime(at).TotalSeconds:F1} s");
    }
    return results;
};

// The sandbox's level, and the steps this machine could not apply (each says why).
static string SandboxSummary(string report)
{
    var lines = report.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    var missing = lines.Skip(1).Where(l => l.Contains("unavailable", StringComparison.Ordinal)).Select(l => l.Replace("sandbox: ", "", StringComparison.Ordinal)).ToList();
    return lines[0] + (missing.Count > 0 ? $" ({string.Join("; ", missing)})" : "");
}
