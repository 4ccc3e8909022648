using Vdi.Guest.Desktop;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Images;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>
/// The desktop guest booted in the emulator against the real devices, with what the GPU reported recorded:
/// flushes (damage), scanout changes and cursor moves. The wall clock is fixed at <see cref="Now"/>.
/// </summary>
internal sealed class DesktopHarness : IDisposable
{
    public static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 34, 56, TimeSpan.Zero);

    private static readonly Lazy<GuestImage> s_image = new(DesktopGuest.Build);

    public DesktopHarness(DisplayProperties initial, ulong memory = DeviceEmulatedMachine.DefaultMemory)
    {
        Machine = new DeviceEmulatedMachine(s_image.Value, initial, memory, new FixedClock(Now));
        Gpu.Flushed += Flushes.Add;
        Gpu.ScanoutChanged += ScanoutChanges.Add;
        Gpu.CursorMoved += (x, y) => CursorMoves.Add((x, y));
        Machine.RunUntilIdle();
    }

    public DeviceEmulatedMachine Machine { get; }

    public VirtioGpu Gpu => Machine.Devices.Gpu;

    public List<ScanoutFlush> Flushes { get; } = [];

    public List<ScanoutChange> ScanoutChanges { get; } = [];

    public List<(int X, int Y)> CursorMoves { get; } = [];

    public int Unit => (int)Symbol(DesktopGuest.UnitSymbol);

    public int TextLength => (int)Symbol(DesktopGuest.TextLengthSymbol);

    /// <summary>The terminal's kept text, as the guest stores it.</summary>
    public string Text
    {
        get
        {
            var bytes = new byte[TextLength];
            Machine.Memory.Read(s_image.Value.Symbol(DesktopGuest.TextSymbol), bytes);
            return System.Text.Encoding.ASCII.GetString(bytes);
        }
    }

    public ScanoutSnapshot Capture() => Gpu.Capture() ?? throw new InvalidOperationException("The guest shows no scanout.");

    /// <summary>Asks for a mode, lets the guest run until idle, and returns the acknowledgement.</summary>
    public async Task<DisplayAcknowledgement> RequestAsync(DisplayProperties properties)
    {
        var request = Machine.Devices.Display.RequestAsync(properties, TimeSpan.FromSeconds(10));
        Machine.RunUntilIdle();
        return await request;
    }

    /// <summary>Presses and releases each key, then lets the guest handle them.</summary>
    public void Type(params ushort[] keys)
    {
        foreach (var key in keys)
        {
            Assert.True(Machine.Devices.Keyboard.InjectKey(key, KeyAction.Press));
            Assert.True(Machine.Devices.Keyboard.InjectKey(key, KeyAction.Release));
        }
        Machine.RunUntilIdle();
    }

    /// <summary>Asks for the motion panel on or off, as a host would, and lets the guest act on it.</summary>
    public void SetMotion(bool on)
    {
        Assert.True(Machine.Devices.SetMotion(on));
        Machine.RunUntilIdle();
    }

    /// <summary>Delivers <paramref name="count"/> LAPIC timer ticks, letting the guest handle each (the emulated timer does not run by itself).</summary>
    public void Tick(int count = 1)
    {
        for (var i = 0; i < count; i++)
        {
            Machine.Cpu.PostInterrupt(DesktopInterruptEmitter.TimerVector);
            Machine.RunUntilIdle();
        }
    }

    /// <summary>The LAPIC timer's initial count as the guest last wrote it.</summary>
    public uint TimerInitialCount => Machine.Cpu.LocalApicWrites[ApicRegisters.TimerInitialCountRegister];

    public static GuestImage Image => s_image.Value;

    /// <summary>How many pixels of <paramref name="region"/> differ between two frames.</summary>
    public static int ChangedPixels(ScanoutSnapshot before, ScanoutSnapshot after, GpuRect region)
    {
        var changed = 0;
        for (var y = region.Y; y < region.Y + region.Height; y++)
        {
            for (var x = region.X; x < region.X + region.Width; x++)
                changed += before.ArgbAt(x, y) != after.ArgbAt(x, y) ? 1 : 0;
        }
        return changed;
    }

    public uint Symbol(string name) => Machine.Memory.Read<uint>(s_image.Value.Symbol(name));

    public void Dispose() => Machine.Dispose();

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
