using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Guest.Desktop;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm run --display WxH@DPI [--type TEXT] [--screenshot FILE]`: boots the desktop guest, asks
/// for the display, optionally types text, writes what the guest shows as PNG, then powers off.
/// </summary>
internal static class DesktopRun
{
    private static readonly TimeSpan s_settle = TimeSpan.FromMilliseconds(300);

    public static async Task<int> ExecuteAsync(int vcpus, int memoryMiB, DisplayProperties display, string? type, string? screenshot, TextWriter stdout, TextWriter stderr)
    {
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = vcpus, MemoryMiB = memoryMiB, Image = DesktopGuest.Build(), Display = display });
        machine.Start();
        var ack = await machine.Devices.Display.RequestAsync(display, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await stdout.WriteLineAsync($"display {display.Width}x{display.Height} @ {display.Dpi:0.#} dpi shown after {ack.Elapsed.TotalMilliseconds:F1} ms").ConfigureAwait(false);

        if (type is not null)
        {
            var skipped = UsKeyboardLayout.Type(machine.Devices.Keyboard, type);
            if (skipped.Length > 0)
                await stderr.WriteLineAsync($"vdi-vmm: no key for '{skipped}' on a US layout; typed the rest").ConfigureAwait(false);
        }

        if (screenshot is not null)
        {
            await WaitForQuietAsync(machine.Devices.Gpu).ConfigureAwait(false);
            var snapshot = machine.Devices.Gpu.Capture() ?? throw new InvalidOperationException("the guest shows no scanout");
            await File.WriteAllBytesAsync(screenshot, ScanoutImage.EncodePng(snapshot)).ConfigureAwait(false);
            await stdout.WriteLineAsync($"screenshot {snapshot.Width}x{snapshot.Height} written to {screenshot}").ConfigureAwait(false);
        }

        machine.RequestPowerOff();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return exit.Kind == MachineExitKind.PoweredOff ? exit.ExitCode : Cli.ExitFailure;
    }

    /// <summary>Waits until the guest has not flushed for a short while (typed text drawn, clock aside).</summary>
    private static async Task WaitForQuietAsync(VirtioGpu gpu)
    {
        var last = DateTime.UtcNow;
        void OnFlush(ScanoutFlush _) => last = DateTime.UtcNow;
        gpu.Flushed += OnFlush;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (DateTime.UtcNow - last < s_settle && DateTime.UtcNow < deadline)
                await Task.Delay(50).ConfigureAwait(false);
        }
        finally
        {
            gpu.Flushed -= OnFlush;
        }
    }
}
