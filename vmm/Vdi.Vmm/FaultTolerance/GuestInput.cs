using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Input;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// An input from the host to the guest, in a form a journal records: the vCPU's thread applies it between two
/// instructions, on the machine that records and, at the same count, on the machine that replays.
/// </summary>
public abstract record GuestInput
{
    internal abstract JournalEntry At(long count);

    /// <summary>Applies the input to <paramref name="machine"/>'s devices (on its vCPU's thread, between instructions).</summary>
    internal abstract void Apply(Machine.Machine machine);

    internal static GuestInput FromEntry(JournalEntry e) => e.Kind switch
    {
        JournalKind.Key => new KeyInput((ushort)e.A, (KeyAction)e.B),
        JournalKind.Tablet => new PointerInput((int)(uint)e.A, (int)(uint)e.B, (PointerButtons)e.C, (int)(long)e.D),
        JournalKind.Display => new DisplayInput(new DisplayProperties((int)e.A, (int)e.B, BitConverter.UInt64BitsToDouble(e.C), (int)(e.D & 0xFFFF))
        {
            WidthMm = (int)((e.D >> 16) & 0xFF_FFFF) is var w and > 0 ? w : null,
            HeightMm = (int)((e.D >> 40) & 0xFF_FFFF) is var h and > 0 ? h : null,
        }),
        JournalKind.HostRequest => new HostRequestInput((byte)e.A),
        _ => throw new JournalException($"{e} is not an input"),
    };
}

public sealed record KeyInput(ushort Code, KeyAction Action) : GuestInput
{
    internal override JournalEntry At(long count) => new(count, JournalKind.Key, Code, (ulong)Action);

    internal override void Apply(Machine.Machine machine) => machine.Devices.Keyboard.InjectKey(Code, Action);
}

public sealed record PointerInput(int X, int Y, PointerButtons Buttons, int Wheel = 0) : GuestInput
{
    internal override JournalEntry At(long count) => new(count, JournalKind.Tablet, (uint)X, (uint)Y, (ulong)Buttons, unchecked((ulong)(long)Wheel));

    internal override void Apply(Machine.Machine machine) => machine.Devices.Tablet.InjectPointer(X, Y, Buttons, Wheel);
}

public sealed record DisplayInput(DisplayProperties Properties) : GuestInput
{
    /// <summary>The recorder's: told the request's generation as it is applied (<see cref="Devices.Gpu.DisplayController"/>); not recorded.</summary>
    internal Action<long>? Queued { get; init; }

    internal override JournalEntry At(long count) => new(count, JournalKind.Display, (ulong)Properties.Width, (ulong)Properties.Height,
        BitConverter.DoubleToUInt64Bits(Properties.Dpi), (uint)Properties.RefreshHz | ((ulong)(uint)(Properties.WidthMm ?? 0) << 16) | ((ulong)(uint)(Properties.HeightMm ?? 0) << 40));

    internal override void Apply(Machine.Machine machine) => machine.Devices.Gpu.RequestDisplay(Properties, Queued);
}

public sealed record HostRequestInput(byte Request) : GuestInput
{
    internal override JournalEntry At(long count) => new(count, JournalKind.HostRequest, Request);

    internal override void Apply(Machine.Machine machine) => machine.Devices.Power.PostRequest(Request);
}
