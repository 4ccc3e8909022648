using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The software engine's I/O APIC, driven by the interrupt lines the devices are given. Edge pins deliver on a rising
/// edge; level pins deliver while the line is high, the pin unmasked and no earlier delivery awaits its EOI (Remote
/// IRR) — after the EOI a line still high delivers again, as KVM's I/O APIC does. Lines change on any thread (device
/// and host threads), so every operation takes the APIC's lock; a delivery is posted to the destination vCPU under it.
/// A write the model has no register for is ignored.
/// </summary>
internal sealed class SoftIoApic : State.IDeviceState
{
    public const int Pins = 24;

    private readonly Lock _gate = new();
    private readonly Action<byte, int> _deliver;
    private readonly uint[] _redirection = new uint[Pins * 2];
    private readonly bool[] _level = new bool[Pins];
    private readonly bool[] _remoteIrr = new bool[Pins];
    private uint _select;

    /// <param name="deliver">Posts (vector, destination APIC id) to a vCPU; must not call back into the I/O APIC.</param>
    public SoftIoApic(Action<byte, int> deliver)
    {
        _deliver = deliver;
        for (var pin = 0; pin < Pins; pin++)
            _redirection[pin * 2] = ApicRegisters.LvtMasked;
    }

    /// <summary>When set, every line change and delivery is recorded in <see cref="LineChanges"/> and <see cref="Delivered"/>.</summary>
    public bool Record { get; init; }

    public List<(int Pin, bool Level)> LineChanges { get; } = [];

    public List<byte> Delivered { get; } = [];

    /// <summary>Guest writes the model ignored (no such register).</summary>
    public long IgnoredWrites { get; private set; }

    public bool LineLevel(int pin)
    {
        lock (_gate)
            return _level[pin];
    }

    public uint RedirectionLow(int pin)
    {
        lock (_gate)
            return _redirection[pin * 2];
    }

    public IInterruptLine Line(int pin) => pin is >= 0 and < Pins
        ? new PinLine(this, pin)
        : throw new ArgumentOutOfRangeException(nameof(pin), pin, "No such I/O APIC pin.");

    public uint Read(uint offset)
    {
        lock (_gate)
        {
            return offset == ApicRegisters.IoWindow && _select - ApicRegisters.IoRedirectionTable < Pins * 2
                ? _redirection[_select - ApicRegisters.IoRedirectionTable]
                : offset == ApicRegisters.IoRegisterSelect ? _select : 0;
        }
    }

    public void Write(uint offset, uint value)
    {
        lock (_gate)
        {
            if (offset == ApicRegisters.IoRegisterSelect)
            {
                _select = value;
                return;
            }
            if (offset != ApicRegisters.IoWindow || _select - ApicRegisters.IoRedirectionTable >= Pins * 2)
            {
                IgnoredWrites++;
                return;
            }
            var index = (int)(_select - ApicRegisters.IoRedirectionTable);
            _redirection[index] = value;
            Evaluate(index / 2); // unmasking a pin whose level line is high delivers it
        }
    }

    public string SectionName => "ioapic";

    public ushort SectionVersion => 1;

    /// <summary>The redirection table, the register select and Remote IRR (line levels are the devices': they raise them again on restore).</summary>
    public void SaveState(State.SectionWriter section)
    {
        lock (_gate)
        {
            section.U64s("redirection", [.. _redirection.Select(r => (ulong)r)]).U64("select", _select)
                .U64s("remote_irr", [.. _remoteIrr.Select(b => b ? 1UL : 0)]);
        }
    }

    public void RestoreState(State.SavedSection section)
    {
        var redirection = section.U64s("redirection");
        var remote = section.U64s("remote_irr");
        var select = (uint)section.U64("select", 0, uint.MaxValue);
        if (redirection.Length != Pins * 2 || remote.Length != Pins || redirection.Any(r => r > uint.MaxValue) || remote.Any(r => r > 1))
            throw new State.StateFormatException($"section '{section.Name}': the redirection table or Remote IRR is not {Pins} pins");
        section.EnsureAllRead();
        lock (_gate)
        {
            for (var i = 0; i < redirection.Length; i++)
                _redirection[i] = (uint)redirection[i];
            for (var pin = 0; pin < Pins; pin++)
                _remoteIrr[pin] = remote[pin] == 1;
            _select = select;
        }
    }

    /// <summary>A local APIC retired <paramref name="vector"/>: clears Remote IRR of level pins using it.</summary>
    public void EndOfInterrupt(byte vector)
    {
        lock (_gate)
        {
            for (var pin = 0; pin < Pins; pin++)
            {
                if (_remoteIrr[pin] && (byte)_redirection[pin * 2] == vector)
                {
                    _remoteIrr[pin] = false;
                    Evaluate(pin);
                }
            }
        }
    }

    private bool IsLevelTriggered(int pin) => (_redirection[pin * 2] & ApicRegisters.RedirectionLevelTriggered) != 0;

    private bool IsMasked(int pin) => (_redirection[pin * 2] & ApicRegisters.LvtMasked) != 0;

    private void SetLevel(int pin, bool level)
    {
        lock (_gate)
        {
            var rising = level && !_level[pin];
            _level[pin] = level;
            if (Record)
                LineChanges.Add((pin, level));
            if (IsLevelTriggered(pin))
                Evaluate(pin);
            else if (rising && !IsMasked(pin))
                Deliver(pin);
        }
    }

    private void Evaluate(int pin)
    {
        if (IsLevelTriggered(pin) && _level[pin] && !IsMasked(pin) && !_remoteIrr[pin])
        {
            _remoteIrr[pin] = true;
            Deliver(pin);
        }
    }

    private void Deliver(int pin)
    {
        var vector = (byte)_redirection[pin * 2];
        if (Record)
            Delivered.Add(vector);
        _deliver(vector, (int)(_redirection[(pin * 2) + 1] >> 24));
    }

    private sealed class PinLine(SoftIoApic ioApic, int pin) : IInterruptLine
    {
        public void SetLevel(bool level) => ioApic.SetLevel(pin, level);
    }
}
