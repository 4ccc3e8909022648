using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The software engine's I/O APIC, driven by the interrupt lines the devices are given. Edge pins deliver on a rising
/// edge — one that comes while the pin is masked waits (IRR) until the pin is unmasked or the line falls, as in KVM's
/// I/O APIC; level pins deliver while the line is high, the pin unmasked and no earlier delivery awaits its EOI (Remote
/// IRR) — after the EOI a line still high delivers again, as KVM's I/O APIC does. Register 0 holds the ID. Lines change on any thread (device
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
    private uint _pendingEdges; // a bit per edge pin whose rising edge came while it was masked
    private byte _id;

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
            if (offset == ApicRegisters.IoWindow && _select == IdRegister)
                return (uint)_id << 24;
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
            if (offset == ApicRegisters.IoWindow && _select == IdRegister)
            {
                _id = (byte)((value >> 24) & 0xF);
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

    private const uint IdRegister = 0;

    public string SectionName => State.IoApicState.SectionName;

    public ushort SectionVersion => State.IoApicState.Version;

    /// <summary>The section both engines share (<see cref="State.IoApicState"/>): IRR is the waiting edges and the level pins' lines.</summary>
    public void SaveState(State.SectionWriter section)
    {
        lock (_gate)
        {
            var levels = 0u;
            for (var pin = 0; pin < Pins; pin++)
                levels |= IsLevelTriggered(pin) && _level[pin] ? 1u << pin : 0;
            new State.IoApicState
            {
                Redirection = [.. _redirection.Select((r, i) => i % 2 == 0 ? r & ~State.IoApicState.RemoteIrrBit : r)],
                RemoteIrr = (bool[])_remoteIrr.Clone(),
                Select = _select,
                Irr = _pendingEdges | levels,
                Id = _id,
            }.Write(section);
        }
    }

    /// <summary>Level bits of IRR are not taken: line levels are the devices', which raise them again on restore.</summary>
    public void RestoreState(State.SavedSection section)
    {
        var state = State.IoApicState.Read(section);
        lock (_gate)
        {
            state.Redirection.CopyTo(_redirection, 0);
            state.RemoteIrr.CopyTo(_remoteIrr, 0);
            _select = state.Select;
            _id = state.Id;
            _pendingEdges = 0;
            for (var pin = 0; pin < Pins; pin++)
                _pendingEdges |= !IsLevelTriggered(pin) ? state.Irr & (1u << pin) : 0;
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
            {
                Evaluate(pin);
            }
            else if (!level)
            {
                _pendingEdges &= ~(1u << pin); // a line that fell takes its waiting edge with it
            }
            else if (rising)
            {
                _pendingEdges |= 1u << pin;
                Evaluate(pin);
            }
        }
    }

    private void Evaluate(int pin)
    {
        var bit = 1u << pin;
        if (IsMasked(pin))
            return;
        if (!IsLevelTriggered(pin))
        {
            if ((_pendingEdges & bit) != 0)
            {
                _pendingEdges &= ~bit;
                Deliver(pin);
            }
            return;
        }
        _pendingEdges &= ~bit;
        if (_level[pin] && !_remoteIrr[pin])
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
