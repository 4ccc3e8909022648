using System.Diagnostics;
using Vdi.Harness;

// The display pipeline harness: the real broker in this process, real clients (the .NET SignalR client and Chromium
// through Playwright), the built-in desktop and its workload mode. Prints median and p95 of every figure.
//   dotnet run -c Release --project tests/Vdi.Harness [-- --quick] [-- --only resize,motion,bytes,scale,browser]
//   (`viewers …` is the viewers' own process, started by the harness itself: ViewerHost.)
if (args.FirstOrDefault() == "viewers")
    return await ViewerHost.RunAsync(args[1..]);

var quick = args.Contains("--quick");
var onlyArgument = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
var only = onlyArgument?.Split(',') ?? [];
var unknown = args.Where(a => a is not ("--quick" or "--only") && a != onlyArgument).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"vdi-harness: unknown argument '{unknown[0]}'; usage: [--quick] [--only resize,motion,bytes,scale,browser]");
    return 64;
}

(string Name, Func<Scenario, Task<IReadOnlyList<Figure>>> Run)[] scenarios =
[
    ("resize", ResizeScenario.RunAsync),
    ("motion", MotionScenario.RunAsync),
    ("bytes", BytesScenario.RunAsync),
    ("scale", ScaleScenario.RunAsync),
    ("browser", BrowserScenario.RunAsync),
];

var started = Stopwatch.GetTimestamp();
await using var broker = await HarnessBroker.StartAsync();
var desktop = await broker.RunningDesktopAsync();
var machine = broker.Machine(desktop.Id);
Console.WriteLine($"vdi-harness{(quick ? " --quick" : "")}: {Environment.ProcessorCount} cores, {machine.Engine}");
var scenario = new Scenario(broker, desktop, quick);
var figures = new List<Figure>();
foreach (var (name, run) in scenarios.Where(x => only.Length == 0 || only.Contains(x.Name)))
{
    var at = Stopwatch.GetTimestamp();
    figures.AddRange(await run(scenario));
    Console.WriteLine($"  {name}: {Stopwatch.GetElapsedTime(at).TotalSeconds:F1} s");
}
Console.WriteLine();
Figures.Print(Console.Out, figures);
var failedSamples = Figures.FailedSamples(figures);
Console.WriteLine($"\n{figures.Count} figures in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s" +
    (failedSamples > 0 ? $"; {failedSamples} samples timed out (counted as slower than every measured one)" : ""));
return 0;
