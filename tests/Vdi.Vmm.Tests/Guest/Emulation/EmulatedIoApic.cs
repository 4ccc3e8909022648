using Vdi.Vmm.Devices;
using Vdi.Vmm.Guest;

namespace Vdi.Vmm.Tests.Guest.Emulation;

/// <summary>
/// An I/O APIC for <see cref="DeviceEmulatedMachine"/>, driven by the interrupt lines real devices are given. Edge pins
/// deliver on a rising edge; level pins deliver while the line is high, the pin unmasked and no earlier delivery awaits
/// its EOI (Remote IRR) — after the EOI a line still high delivers again, as KVM's I/O APIC does.
/// </summary>
internal sealed class EmulatedIoApic
{
    public const int Pins = 24;

    private readonly Action<byte, int> _deliver;
    private readonly uint[] _redirection = new uint[Pins * 2];
    private readonly bool[] _level = new bool[Pins];
    private readonly bool[] _remoteIrr = new bool[Pins];
    private uint _select;

    /// <param name="deliver">Posts (vector, destination APIC id) to a vCPU.</param>
    public EmulatedIoApic(Action<byte, int> deliver)
    {
        _deliver = deliver;
        for (var pin = 0; pin < Pins; pin++)
            _redirection[pin * 2] = ApicEmitter.LvtMasked;
    }

    /// <summary>Every level change of every line, in order.</summary>
    public List<(int Pin, bool Level)> LineChanges { get; } = [];

    /// <summary>Vectors delivered, in order.</summary>
    public List<byte> Delivered { get; } = [];

    public bool LineLevel(int pin) => _level[pin];

    public uint RedirectionLow(int pin) => _redirection[pin * 2];

    public IInterruptLine Line(int pin) => pin is >= 0 and < Pins
        ? new PinLine(this, pin)
        : throw new ArgumentOutOfRangeException(nameof(pin), pin, "No such I/O APIC pin.");

    public uint Read(uint offset) =>
        offset == ApicEmitter.IoWindow && _select - ApicEmitter.IoRedirectionTable < Pins * 2
            ? _redirection[_select - ApicEmitter.IoRedirectionTable]
            : offset == ApicEmitter.IoRegisterSelect ? _select : 0;

    public void Write(uint offset, uint value)
    {
        if (offset == ApicEmitter.IoRegisterSelect)
        {
            _select = value;
            return;
        }
        if (offset != ApicEmitter.IoWindow || _select - ApicEmitter.IoRedirectionTable >= Pins * 2)
            throw new InvalidOperationException($"Unexpected I/O APIC write at +0x{offset:X} (select 0x{_select:X}).");
        var index = (int)(_select - ApicEmitter.IoRedirectionTable);
        _redirection[index] = value;
        Evaluate(index / 2); // unmasking a pin whose level line is high delivers it
    }

    /// <summary>A local APIC retired <paramref name="vector"/>: clears Remote IRR of level pins using it.</summary>
    public void EndOfInterrupt(byte vector)
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

    private bool IsLevelTriggered(int pin) => (_redirection[pin * 2] & ApicEmitter.RedirectionLevelTriggered) != 0;

    private bool IsMasked(int pin) => (_redirection[pin * 2] & ApicEmitter.LvtMasked) != 0;

    private void SetLevel(int pin, bool level)
    {
        var rising = level && !_level[pin];
        _level[pin] = level;
        LineChanges.Add((pin, level));
        if (IsLevelTriggered(pin))
            Evaluate(pin);
        else if (rising && !IsMasked(pin))
            Deliver(pin);
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
        Delivered.Add(vector);
        _deliver(vector, (int)(_redirection[(pin * 2) + 1] >> 24));
    }

    private sealed class PinLine(EmulatedIoApic ioApic, int pin) : IInterruptLine
    {
        public void SetLevel(bool level) => ioApic.SetLevel(pin, level);
    }
}
