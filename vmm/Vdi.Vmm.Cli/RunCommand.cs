using System.Runtime.InteropServices;
using Vdi.Guest;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm run`: boots the built-in guest, streams COM1 to stdout, exits with the guest's exit code.
/// With --display, --type, --motion, --screenshot or --sandbox it boots the desktop guest instead (see <see cref="DesktopRun"/>).
/// </summary>
internal static class RunCommand
{
    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout, TextWriter stderr)
    {
        var vcpus = options.Int("vcpus", 1, 1, Boot.GuestLayout.MaxVcpus);
        var memory = options.Int("memory", 256, 4, MachineConfig.MaxMemoryMiB);
        var powerOffWhenIdle = options.Flag("power-off-when-idle");
        var display = options.Text("display");
        var type = options.Text("type");
        var screenshot = options.Text("screenshot");
        var motion = options.Flag("motion");
        var seconds = options.Int("seconds", 3, 1, 3600);
        var engine = options.Engine(Execution.EngineChoice.Auto);
        var sandbox = SandboxOptions.Parse(options, options.Flag("sandbox"));
        options.EnsureConsumed();
        if (display is not null || type is not null || screenshot is not null || motion || sandbox is not null)
        {
            // The desktop guest: shown at the requested display, typed into, put in motion, photographed.
            var properties = DisplaySpec.Parse(display ?? "1280x720@96");
            if (sandbox is not null)
                SandboxOptions.EnterNamespace(stderr);
            var run = new DesktopRun.Options(properties, type, motion ? TimeSpan.FromSeconds(seconds) : null,
                screenshot is null ? null : Path.GetFullPath(screenshot), sandbox);
            return await DesktopRun.ExecuteAsync(vcpus, Math.Max(memory, 512), engine, run, stdout, stderr).ConfigureAwait(false);
        }

        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = vcpus, MemoryMiB = memory, Image = BuiltInGuest.Build(), Engine = engine });
        await stderr.WriteLineAsync($"vdi-vmm: running on {machine.Engine.Subject} ({machine.Engine.Reason})").ConfigureAwait(false);
        if (powerOffWhenIdle)
        {
            machine.Devices.Power.MarkerReached += m =>
            {
                if (m.Value == BootMarkers.Idle)
                    machine.RequestPowerOff();
            };
        }

        // First Ctrl+C / SIGTERM asks the guest to power off; a second one stops the machine.
        var asked = 0;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.Increment(ref asked) == 1)
                machine.RequestPowerOff();
            else
                machine.Stop();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        machine.Start();
        var pump = PumpSerialAsync(machine, stdout);
        var exit = await machine.Completion.ConfigureAwait(false);
        await pump.ConfigureAwait(false);

        switch (exit.Kind)
        {
            case MachineExitKind.PoweredOff:
                return exit.ExitCode;
            case MachineExitKind.Crashed:
                await stderr.WriteLineAsync($"vdi-vmm: guest {exit.Crash}").ConfigureAwait(false);
                return Cli.ExitFailure;
            default:
                await stderr.WriteLineAsync("vdi-vmm: machine stopped by the host").ConfigureAwait(false);
                return 130;
        }
    }

    private static async Task PumpSerialAsync(Vmm.Machine.Machine machine, TextWriter stdout)
    {
        var stream = machine.Serial.OpenStream();
        var buffer = new byte[4096];
        int n;
        while ((n = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            await stdout.WriteAsync(System.Text.Encoding.Latin1.GetString(buffer, 0, n)).ConfigureAwait(false);
            await stdout.FlushAsync().ConfigureAwait(false);
        }
    }
}
