using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm run --display WxH@DPI [--type TEXT] [--motion [--seconds N]] [--screenshot FILE]`: boots the
/// desktop guest, asks for the display, optionally types text, optionally runs the full-motion workload
/// for a while and reports its frame rate, writes what the guest shows as PNG, then powers off.
/// </summary>
internal static class DesktopRun
{
    private static readonly TimeSpan s_settle = TimeSpan.FromMilliseconds(300);

    /// <param name="Motion">How long to run the full-motion panel; null: not at all.</param>
    /// <param name="Sandbox">Applied after the VM is built and before the guest runs; null: none.</param>
    public sealed record Options(DisplayProperties Display, string? Type, TimeSpan? Motion, string? Screenshot, Sandbox.SandboxConfig? Sandbox = null);

    public static async Task<int> ExecuteAsync(int vcpus, int memoryMiB, Execution.EngineChoice engine, Options options, TextWriter stdout, TextWriter stderr)
    {
        var (display, type, screenshot) = (options.Display, options.Type, options.Screenshot);
        var image = DesktopGuest.Build();
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = vcpus, MemoryMiB = memoryMiB, Image = image, Display = display, Engine = engine });
        await stderr.WriteLineAsync($"vdi-vmm: running on {machine.Engine.Subject} ({machine.Engine.Reason})").ConfigureAwait(false);
        if (options.Sandbox is { } sandbox)
        {
            var devices = machine.Engine.Engine == Execution.ExecutionEngine.Kvm ? new[] { Kvm.KvmSystem.ConfiguredDevicePath } : [];
            SandboxOptions.Apply(sandbox with { Devices = devices }, stderr);
        }
        machine.Start();
        var ack = await machine.Devices.Display.RequestAsync(display, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await stdout.WriteLineAsync($"display {display.Width}x{display.Height} @ {display.Dpi:0.#} dpi shown after {ack.Elapsed.TotalMilliseconds:F1} ms").ConfigureAwait(false);

        if (type is not null)
        {
            // Keys sent before the guest's input driver has posted its buffers are lost: wait until it idles.
            await WaitForIdleAsync(machine).ConfigureAwait(false);
            // The screenshot must show the text: wait for the guest's first repaint after the keys (a busy host may
            // take longer than the quiet period to run the guest's input handler).
            var drawn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnFlush(ScanoutFlush flush)
            {
                // The top bar's clock repaints at y 0 every second; typed text lands below it.
                if (flush.Damage.Y > 0)
                    drawn.TrySetResult();
            }
            machine.Devices.Gpu.Flushed += OnFlush;
            var skipped = UsKeyboardLayout.Type(machine.Devices.Keyboard, type);
            if (skipped.Length > 0)
                await stderr.WriteLineAsync($"vdi-vmm: no key for '{skipped}' on a US layout; typed the rest").ConfigureAwait(false);
            if (skipped.Length < type.Length)
                await Task.WhenAny(drawn.Task, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            machine.Devices.Gpu.Flushed -= OnFlush;
        }

        if (options.Motion is { } duration)
            await RunMotionAsync(machine, image, display, duration, stdout).ConfigureAwait(false);

        if (screenshot is not null)
        {
            if (options.Motion is null)
                await WaitForQuietAsync(machine.Devices.Gpu).ConfigureAwait(false);
            var snapshot = machine.Devices.Gpu.Capture() ?? throw new InvalidOperationException("the guest shows no scanout");
            await File.WriteAllBytesAsync(screenshot, ScanoutImage.EncodePng(snapshot)).ConfigureAwait(false);
            await stdout.WriteLineAsync($"screenshot {snapshot.Width}x{snapshot.Height} written to {screenshot}").ConfigureAwait(false);
        }

        machine.RequestPowerOff();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return exit.Kind == MachineExitKind.PoweredOff ? exit.ExitCode : Cli.ExitFailure;
    }

    /// <summary>Switches the motion panel on for <paramref name="duration"/> and reports the frames the guest flushed and counted.</summary>
    private static async Task RunMotionAsync(Vmm.Machine.Machine machine, GuestImage image, DisplayProperties display, TimeSpan duration, TextWriter stdout)
    {
        var gpu = machine.Devices.Gpu;
        var (x, y, w, h) = DesktopGuest.MotionPanel(display.Width, display.Height);
        var panel = new GpuRect(x, y, w, h);
        var flushed = 0;
        void OnFlush(ScanoutFlush flush)
        {
            if (flush.Damage == panel)
                Interlocked.Increment(ref flushed);
        }
        gpu.Flushed += OnFlush;
        var counterBefore = machine.Memory.Read<uint>(image.Symbol(DesktopGuest.MotionFramesSymbol));
        if (!machine.SetMotion(true))
            throw new InvalidOperationException("the guest is not reading host requests");
        await Task.Delay(duration).ConfigureAwait(false);
        gpu.Flushed -= OnFlush;
        var counted = machine.Memory.Read<uint>(image.Symbol(DesktopGuest.MotionFramesSymbol)) - counterBefore;
        var frames = Volatile.Read(ref flushed);
        await stdout.WriteLineAsync(
            $"motion {w}x{h} panel at ({x}, {y}): {frames} frames flushed in {duration.TotalSeconds:0.#} s ({frames / duration.TotalSeconds:F1} fps; guest counted {counted})").ConfigureAwait(false);
    }

    /// <summary>Waits (up to 30 s) until the guest reports it has finished starting and idles.</summary>
    internal static async Task WaitForIdleAsync(Vmm.Machine.Machine machine)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!machine.Devices.Power.Markers.Any(m => m.Value == BootMarkers.Idle) && DateTime.UtcNow < deadline)
            await Task.Delay(10).ConfigureAwait(false);
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
