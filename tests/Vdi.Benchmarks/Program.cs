using System.Globalization;
using Vdi.Benchmarks;

// Display-pipeline benchmarks that need no VM.
//   encoder: tile encoder throughput per encoding, next to a memory copy of the same pixels
//   pump:    the frame pump and encoder end to end on desktop-like scenarios
// Usage: dotnet run -c Release --project tests/Vdi.Benchmarks -- [encoder|pump] [--runs N] [--quick] [--parallel]
// Without a name both run; --quick runs everything in a few seconds (a smoke test for CI);
// --parallel encodes the tiles of large frames on all cores (to compare with the one-thread default).
var quick = args.Contains("--quick");
var runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(quick ? 3 : 9);
var names = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal) && !int.TryParse(a, CultureInfo.InvariantCulture, out _)).ToArray();
if (names.Any(n => n is not ("encoder" or "pump")))
{
    Console.Error.WriteLine("usage: Vdi.Benchmarks [encoder|pump] [--runs N] [--quick] [--parallel]");
    return 64;
}
if (names.Length == 0 || names.Contains("encoder"))
    EncoderBenchmark.Run(runs);
if (names.Length == 0 || names.Contains("pump"))
    await new PumpBenchmark(quick, parallel: args.Contains("--parallel")).RunAsync();
return 0;
