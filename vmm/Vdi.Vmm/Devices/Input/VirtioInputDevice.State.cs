using Vdi.Vmm.State;

namespace Vdi.Vmm.Devices.Input;

/// <summary>
/// An input device's state: the events waiting for eventq buffers (whole reports), the keys and buttons they leave
/// pressed and the ones the host last said, the LEDs, the configuration selector and the counters; a tablet adds its
/// extent. Restored before its transport, which activates it and so delivers what waits.
/// </summary>
public abstract partial class VirtioInputDevice : IDeviceState
{
    /// <summary>The section's name; the machine names its devices (<c>input.keyboard</c>, <c>input.tablet</c>).</summary>
    public string SectionName { get; init; } = "input";

    public ushort SectionVersion => 1;

    public void SaveState(SectionWriter section)
    {
        Host.Guard(() =>
        {
            var (events, pressed, lastReport) = _pending.Export();
            var (select, subsel) = _config.Selection;
            section.U64s("events", [.. events.Select(Pack)]).U64s("pressed", Bits(pressed)).U64s("intended", Bits(_intended))
                .I64("last_report", lastReport).Bool("resync", _resync).U64("leds", _leds).U64("select", select).U64("subsel", subsel)
                .I64("delivered", _delivered).I64("dropped", _dropped).I64("refused", _refused).I64("clamped", _clamped);
            SaveDevice(section);
        });
    }

    public void RestoreState(SavedSection section)
    {
        var events = section.U64s("events").Select(Unpack).ToArray();
        var pressed = Flags(section, "pressed");
        var intended = Flags(section, "intended");
        var lastReport = section.I64("last_report");
        var (resync, leds) = (section.Bool("resync"), (uint)section.U64("leds", 0, uint.MaxValue));
        var selection = ((byte)section.U64("select", 0, 0xFF), (byte)section.U64("subsel", 0, 0xFF));
        var counters = (section.I64("delivered"), section.I64("dropped"), section.I64("refused"), section.I64("clamped"));
        if (events.Length > PendingCapacity || (events.Length > 0 && events[^1] != InputEvent.SynReport))
            throw new StateFormatException($"section '{section.Name}': {events.Length} waiting events, not whole reports within {PendingCapacity}");
        if (lastReport < -1 || lastReport >= events.Length)
            throw new StateFormatException($"section '{section.Name}': field 'last_report' is {lastReport}, outside the {events.Length} waiting events");
        var restoreDevice = RestoreDevice(section);
        section.EnsureAllRead();
        Host.Guard(() =>
        {
            _pending.Import(events, pressed, (int)lastReport);
            intended.CopyTo(_intended, 0);
            (_resync, _leds) = (resync, leds);
            _config.Selection = selection;
            (_delivered, _dropped, _refused, _clamped) = counters;
            restoreDevice();
        });
    }

    /// <summary>Fields a kind of device adds to its section.</summary>
    protected virtual void SaveDevice(SectionWriter section)
    {
    }

    /// <summary>Reads and checks a kind of device's own fields; returns what applies them (under the gate).</summary>
    protected virtual Action RestoreDevice(SavedSection section) => static () => { };

    private static ulong Pack(InputEvent e) => ((ulong)e.Type << 48) | ((ulong)e.Code << 32) | (uint)e.Value;

    private static InputEvent Unpack(ulong v) => new((ushort)(v >> 48), (ushort)(v >> 32), (int)(uint)v);

    private static ulong[] Bits(bool[] flags)
    {
        var bits = new ulong[PendingInput.KeyCodes / 64];
        for (var i = 0; i < flags.Length; i++)
        {
            if (flags[i])
                bits[i >> 6] |= 1UL << (i & 63);
        }
        return bits;
    }

    private static bool[] Flags(SavedSection section, string field)
    {
        var bits = section.U64s(field);
        if (bits.Length != PendingInput.KeyCodes / 64)
            throw new StateFormatException($"section '{section.Name}': field '{field}' has {bits.Length} words, not {PendingInput.KeyCodes / 64}");
        return [.. Enumerable.Range(0, PendingInput.KeyCodes).Select(i => (bits[i >> 6] & (1UL << (i & 63))) != 0)];
    }
}
