using Vdi.Vmm.Cli;
using Vdi.Vmm.Kvm;

return await Cli.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);

namespace Vdi.Vmm.Cli
{
    /// <summary>Command dispatch and the one-line error contract: no stack traces for expected failures.</summary>
    internal static class Cli
    {
        public const int ExitUsage = 64;
        public const int ExitKvmUnavailable = 2;
        public const int ExitFailure = 1;

        public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
        {
            try
            {
                return args switch
                {
                    ["check", .. var rest] => await CheckCommand.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["run", .. var rest] => await RunCommand.ExecuteAsync(CliOptions.Parse(rest), stdout, stderr).ConfigureAwait(false),
                    ["snapshot", .. var rest] => await SnapshotCommand.SaveAsync(CliOptions.Parse(rest), stdout, stderr).ConfigureAwait(false),
                    ["restore", .. var rest] => await SnapshotCommand.RestoreAsync(CliOptions.Parse(rest), stdout, stderr).ConfigureAwait(false),
                    ["serve", .. var rest] => ServeCommand.Execute(CliOptions.Parse(rest), stderr),
                    ["sandbox-probe", .. var rest] => SandboxProbe.Execute(CliOptions.Parse(rest), stdout, stderr),
                    ["bench", "exits", .. var rest] => await BenchExits.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "display", .. var rest] => await BenchDisplay.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "engines", .. var rest] => await BenchEngines.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "host", .. var rest] => await BenchHost.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "trace", .. var rest] => await BenchTrace.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "integrity", .. var rest] => await BenchIntegrity.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "migrate", .. var rest] => await BenchMigrate.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "ft", .. var rest] => await BenchFt.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "boot", .. var rest] => await BenchBoot.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    ["bench", "dma", .. var rest] => await BenchDma.ExecuteAsync(CliOptions.Parse(rest), stdout).ConfigureAwait(false),
                    _ => Usage(stderr),
                };
            }
            catch (KvmException e) when (e.DeviceUnavailable)
            {
                await stderr.WriteLineAsync($"vdi-vmm: {e.Message}").ConfigureAwait(false);
                return ExitKvmUnavailable;
            }
            catch (Exception e) when (e is ArgumentException or KvmException or InvalidOperationException or FormatException or Migration.MigrationException or IOException)
            {
                await stderr.WriteLineAsync($"vdi-vmm: {e.Message}").ConfigureAwait(false);
                return e is ArgumentException or FormatException ? ExitUsage : ExitFailure;
            }
        }

        private static int Usage(TextWriter stderr)
        {
            stderr.WriteLine("usage: vdi-vmm check [--device PATH]");
            stderr.WriteLine("       vdi-vmm run [--vcpus N] [--memory MiB] [--power-off-when-idle]");
            stderr.WriteLine("       vdi-vmm run --display WxH[@DPI] [--type TEXT] [--motion [--seconds N]] [--screenshot FILE.png]");
            stderr.WriteLine("       vdi-vmm run --sandbox [--sandbox-dir DIR] [--memory-limit MiB] [--cpu-percent N] [desktop options]");
            stderr.WriteLine("       vdi-vmm snapshot --file F [--display WxH[@DPI]] [--type TEXT] [--memory MiB] [--vcpus N] [--engine E]");
            stderr.WriteLine("       vdi-vmm restore --file F [--engine E] [--type TEXT] [--screenshot FILE.png] [--seconds N]");
            stderr.WriteLine("       vdi-vmm serve --socket PATH [--vcpus N] [--memory MiB] [--engine auto|kvm|software] [--display WxH[@DPI]]");
            stderr.WriteLine("                     [--max-width W] [--max-height H] [--reconnect-seconds N] [--arena-kib N] [--integrity off|audit|enforce] [--incoming] [--fault-tolerance primary|secondary] [--sandbox ...] [--test-hooks]");
            stderr.WriteLine("       vdi-vmm sandbox-probe [--sandbox ...] [--open PATH] [--allocate MiB] [--forbidden-call NAME [--from-thread]]");
            stderr.WriteLine("       vdi-vmm bench exits [--iterations N] [--runs N]");
            stderr.WriteLine("       vdi-vmm bench boot [--runs N]");
            stderr.WriteLine("       vdi-vmm bench migrate [--runs N] [--engine E] [--downtime-ms N] [--served-only]");
            stderr.WriteLine("       vdi-vmm bench ft [--runs N] [--failovers N] [--served-only] [--engine software|kvm]");
            stderr.WriteLine("       vdi-vmm bench display [--runs N]");
            stderr.WriteLine("       vdi-vmm bench dma [--runs N]");
            stderr.WriteLine("       vdi-vmm bench host [--keys N] [--engine E] [--sandbox] [--motion-seconds N]");
            stderr.WriteLine("       vdi-vmm bench engines [--runs N] [--repaints N] [--storm-iterations N]");
            stderr.WriteLine("       vdi-vmm bench trace [--runs N] [--software-writes N] [--kvm-writes N] [--store-iterations N]");
            stderr.WriteLine("       vdi-vmm bench integrity [--runs N] [--software-writes N] [--kvm-writes N] [--cycles N] [--kvm-cycles N] [--repaints N]");
            return ExitUsage;
        }
    }
}
