using System.Diagnostics;
using System.Security.Cryptography;
using Vdi.Guest;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm snapshot --file F [--display WxH@DPI] [--type TEXT] [--memory MiB] [--vcpus N] [--engine E]`: boots the
/// desktop, types, pauses and writes the machine to a file. `vdi-vmm restore --file F [--engine E] [--type TEXT]
/// [--screenshot PNG] [--seconds N]`: builds the machine the file names, restores it — it continues exactly where it
/// was: same pixels, same terminal; the desktop's clock reads the host's time, so it is right — and runs it.
/// </summary>
internal static class SnapshotCommand
{
    public static async Task<int> SaveAsync(CliOptions options, TextWriter stdout, TextWriter stderr)
    {
        var file = options.Text("file") ?? throw new ArgumentException("--file PATH is needed: where the snapshot goes");
        var display = DisplaySpec.Parse(options.Text("display") ?? "1280x720@96");
        var type = options.Text("type");
        var memory = options.Int("memory", 512, 64, MachineConfig.MaxMemoryMiB);
        var vcpus = options.Int("vcpus", 1, 1, Boot.GuestLayout.MaxVcpus);
        var engine = options.Engine(Execution.EngineChoice.Auto);
        options.EnsureConsumed();

        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = vcpus, MemoryMiB = memory, Image = DesktopGuest.Build(), Display = display, Engine = engine });
        await stderr.WriteLineAsync($"vdi-vmm: running on {machine.Engine.Subject} ({machine.Engine.Reason})").ConfigureAwait(false);
        machine.Start();
        await machine.Devices.Display.RequestAsync(display, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        await DesktopRun.WaitForIdleAsync(machine).ConfigureAwait(false); // keys sent before the input driver posts its buffers would wait
        if (type is not null)
            await TypeAsync(machine, type).ConfigureAwait(false);
        if (!machine.PauseAll(TimeSpan.FromSeconds(10)))
            throw new InvalidOperationException("the vCPUs did not park for the snapshot");
        SnapshotFigures figures;
        await using (var stream = new FileStream(Path.GetFullPath(file), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            figures = await MachineSnapshot.SaveAsync(machine, stream).ConfigureAwait(false);
        await stdout.WriteLineAsync(FormattableString.Invariant(
            $"snapshot of {memory} MiB ({figures.Pages} pages, {figures.ZeroPages} zero) written to {file}: {figures.Bytes / 1048576.0:F1} MiB, state {figures.StateBytes / 1024.0:F0} KiB, in {figures.Elapsed.TotalMilliseconds:F0} ms")).ConfigureAwait(false);
        machine.Stop();
        return 0;
    }

    public static async Task<int> RestoreAsync(CliOptions options, TextWriter stdout, TextWriter stderr)
    {
        var file = options.Text("file") ?? throw new ArgumentException("--file PATH is needed: the snapshot to restore");
        var engine = options.Engine(Execution.EngineChoice.Auto);
        var type = options.Text("type");
        var screenshot = options.Text("screenshot");
        var seconds = options.Int("seconds", 0, 0, 3600);
        options.EnsureConsumed();

        var started = Stopwatch.StartNew();
        await using var stream = new FileStream(Path.GetFullPath(file), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var identity = await MigrationTarget.ReadIdentityAsync(stream).ConfigureAwait(false);
        var image = KnownImage(identity);
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = identity.Vcpus, MemoryMiB = (int)(identity.MemoryBytes >> 20), Image = image, Engine = engine });
        var built = started.Elapsed;
        var receipt = await MigrationTarget.RestoreSnapshotAsync(machine, identity, stream).ConfigureAwait(false);
        machine.Start();
        var running = started.Elapsed;
        await stderr.WriteLineAsync($"vdi-vmm: running on {machine.Engine.Subject} ({machine.Engine.Reason})").ConfigureAwait(false);
        await stdout.WriteLineAsync(FormattableString.Invariant(
            $"restored {identity.ImageName} ({identity.MemoryBytes >> 20} MiB, saved on {identity.Engine}) in {running.TotalMilliseconds:F0} ms: machine built in {built.TotalMilliseconds:F0} ms, memory and state read in {(running - built).TotalMilliseconds:F0} ms ({receipt.Pages} pages, {receipt.ZeroPages} zero; state restored in {receipt.RestoreTime.TotalMilliseconds:F1} ms)")).ConfigureAwait(false);
        if (type is not null)
            await TypeAsync(machine, type).ConfigureAwait(false);
        if (seconds > 0)
            await Task.Delay(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
        if (screenshot is not null)
        {
            await Task.Delay(300).ConfigureAwait(false); // the repaint after the last key
            var snapshot = machine.Devices.Gpu.Capture() ?? throw new InvalidOperationException("the guest shows no scanout");
            await File.WriteAllBytesAsync(screenshot, ScanoutImage.EncodePng(snapshot)).ConfigureAwait(false);
            await stdout.WriteLineAsync($"screenshot {snapshot.Width}x{snapshot.Height} written to {screenshot}").ConfigureAwait(false);
        }
        machine.RequestPowerOff();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return exit.Kind == MachineExitKind.PoweredOff ? exit.ExitCode : Cli.ExitFailure;
    }

    /// <summary>The image the snapshot was taken of, among those this program carries (by the SHA-256 of its bytes).</summary>
    private static GuestImage KnownImage(MachineIdentity identity)
    {
        foreach (var image in new[] { DesktopGuest.Build(), BuiltInGuest.Build() })
        {
            if (SHA256.HashData(image.Bytes).AsSpan().SequenceEqual(identity.ImageSha256))
                return image;
        }
        throw new InvalidOperationException($"the snapshot runs image '{identity.ImageName}', which this vdi-vmm does not carry (another build?)");
    }

    /// <summary>Types <paramref name="text"/> into the desktop and waits until its terminal shows it.</summary>
    private static async Task TypeAsync(Vmm.Machine.Machine machine, string text)
    {
        string Typed() => DesktopText.Read(machine.Config.Image, machine.Memory);
        var skipped = UsKeyboardLayout.Type(machine.Devices.Keyboard, text);
        var expected = new string([.. text.Where(c => !skipped.Contains(c))]);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Typed().EndsWith(expected, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(10).ConfigureAwait(false);
    }
}
