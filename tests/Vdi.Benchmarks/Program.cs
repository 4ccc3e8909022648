using System.Globalization;
using Vdi.Benchmarks;

// Display-pipeline benchmarks that need no VM.
//   encoder: tile encoder throughput per encoding, next to a memory copy of the same pixels
//   pump:    the frame pump and encoder end to end on desktop-like scenarios
// Usage: dotnet run -c Release --project tests/Vdi.Benchmarks -- [encoder|pump] [--runs N] [--quick] [--parallel]
//        [--ack-delay MS] [--scene NAME] [--viewers N]
// Without a name both run; --quick runs everything in a few seconds (a smoke test for CI);
// --parallel encodes the tiles of large frames on all cores (to compare with the one-thread default);
// --ack-delay makes the pump's client acknowledge each frame MS later (a slow client); --scene runs one scene;
// --viewers has N viewers share the desktop's stream (each serializes and acknowledges every frame).
var quick = args.Contains("--quick");
int? Number(string option) => args.SkipWhile(a => a != option).Skip(1).Select(a => (int?)int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault();
var runs = Number("--runs") ?? (quick ? 3 : 9);
var ackDelay = TimeSpan.FromMilliseconds(Number("--ack-delay") ?? 0);
var scenes = args.SkipWhile(a => a != "--scene").Skip(1).Take(1).ToArray();
var names = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] is not ("--runs" or "--ack-delay" or "--scene" or "--viewers"))).ToArray();
if (names.Any(n => n is not ("encoder" or "pump")))
{
    Console.Error.WriteLine("usage: Vdi.Benchmarks [encoder|pump] [--runs N] [--quick] [--parallel] [--ack-delay MS] [--scene NAME] [--viewers N]");
    return 64;
}
if (names.Length == 0 || names.Contains("encoder"))
    EncoderBenchmark.Run(runs);
if (names.Length == 0 || names.Contains("pump"))
    await new PumpBenchmark(quick, parallel: args.Contains("--parallel"), ackDelay, scenes, Number("--viewers") ?? 1).RunAsync();
return 0;
