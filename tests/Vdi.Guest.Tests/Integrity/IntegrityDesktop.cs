using System.Text;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;

namespace Vdi.Guest.Tests.Integrity;

/// <summary>
/// The desktop guest in a real machine (its vCPU threads, its devices, its integrity monitor) on either engine, booted
/// at an integrity level, with what a test needs: the terminal's text, typing, commands and their output, repaints.
/// </summary>
internal sealed class IntegrityDesktop : IDisposable
{
    public static readonly DisplayProperties Initial = new(800, 600, 96);

    private static readonly Lazy<GuestImage> s_image = new(DesktopGuest.Build);
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private IntegrityDesktop(Vmm.Machine.Machine machine) => Machine = machine;

    public static GuestImage Image => s_image.Value;

    public Vmm.Machine.Machine Machine { get; }

    public IntegrityMonitor Integrity => Machine.Integrity;

    public string Serial => Machine.Serial.Text;

    /// <summary>The terminal's kept text, as the guest stores it.</summary>
    public string Text => DesktopText.Read(Image, Machine.Memory);

    /// <summary>A desktop over a machine built elsewhere (restored from a snapshot, say); disposing it disposes the machine.</summary>
    public static IntegrityDesktop Wrap(Vmm.Machine.Machine machine) => new(machine);

    /// <summary>Builds the machine, starts it and waits until the desktop idles with its drivers up.</summary>
    public static async Task<IntegrityDesktop> BootAsync(EngineChoice engine, IntegrityLevel level)
    {
        Vmm.Machine.Machine machine;
        try
        {
            machine = MachineBuilder.Build(new MachineConfig { Image = Image, MemoryMiB = 128, Engine = engine, Integrity = level, Display = Initial });
        }
        catch (KvmException e) when (e.DeviceUnavailable)
        {
            throw new InvalidOperationException($"this test runs a real VM and needs KVM: {e.Message}", e);
        }
        var desktop = new IntegrityDesktop(machine);
        machine.Start();
        await desktop.WaitAsync(() => machine.Devices.Power.Markers.Any(m => m.Value == BootMarkers.Idle), "the desktop to idle");
        return desktop;
    }

    /// <summary>Types <paramref name="text"/> and waits until the terminal's text ends with it.</summary>
    public async Task TypeAsync(string text)
    {
        var before = Text;
        Assert.Equal("", UsKeyboardLayout.Type(Machine.Devices.Keyboard, text));
        await WaitAsync(() => Text.EndsWith(text, StringComparison.Ordinal) && Text.Length >= before.Length + text.Length, $"'{text}' in the terminal");
    }

    /// <summary>Types <paramref name="command"/> and Enter, and returns the line the command printed (without its '\n').</summary>
    public async Task<string> RunCommandAsync(string command)
    {
        var start = Text.Length;
        Assert.Equal("", UsKeyboardLayout.Type(Machine.Devices.Keyboard, command + "\n"));
        var echoed = command + "\n";
        string Output() => Text.Length > start + echoed.Length ? Text[(start + echoed.Length)..] : "";
        await WaitAsync(() => Output().EndsWith('\n'), $"the output of '{command}'");
        Assert.Equal(echoed, Text[start..(start + echoed.Length)]);
        return Output().TrimEnd('\n');
    }

    /// <summary>Asks for <paramref name="mode"/> and checks the scanout has exactly its size.</summary>
    public async Task RepaintAsync(DisplayProperties mode)
    {
        var ack = await Machine.Devices.Display.RequestAsync(mode, s_timeout);
        Assert.Equal(mode, ack.Properties);
        var shot = Machine.Devices.Gpu.Capture()!;
        Assert.Equal((mode.Width, mode.Height), (shot.Width, shot.Height));
    }

    public async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; serial:\n{Serial}\nalerts:\n{string.Join("\n", Integrity.Alerts)}\ncompletion: {(Machine.Completion.IsCompleted ? Machine.Completion.Result : "running")}");
            await Task.Delay(10);
        }
    }

    public void Dispose()
    {
        Machine.Stop();
        Machine.Dispose();
    }
}
