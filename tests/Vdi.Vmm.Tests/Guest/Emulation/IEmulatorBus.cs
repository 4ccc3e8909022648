namespace Vdi.Vmm.Tests.Guest.Emulation;

/// <summary>
/// What an <see cref="EmulatedCpu"/> sees of its machine: memory (RAM and MMIO), ports, and shutdown. Implemented by
/// <see cref="EmulatedMachine"/> (recording models) and <see cref="DeviceEmulatedMachine"/> (the real device set).
/// </summary>
internal interface IEmulatorBus
{
    /// <summary>Up to 15 bytes at <paramref name="rip"/> for the decoder.</summary>
    byte[] FetchWindow(ulong rip);

    ulong ReadMemory(EmulatedCpu cpu, ulong address, int size);

    void WriteMemory(EmulatedCpu cpu, ulong address, int size, ulong value);

    ulong PortIn(EmulatedCpu cpu, ushort port, int size);

    void PortOut(EmulatedCpu cpu, ushort port, int size, ulong value);

    void TripleFault();

    /// <summary>
    /// Stores <paramref name="count"/> elements of <paramref name="elementSize"/> bytes with <paramref name="value"/>
    /// from <paramref name="address"/> upwards in one go, when that range is plain RAM; false makes the CPU store them
    /// one at a time through <see cref="WriteMemory"/>.
    /// </summary>
    bool TryFill(ulong address, int elementSize, ulong value, ulong count) => false;

    /// <summary>Copies <paramref name="bytes"/> bytes upwards when both ranges are plain RAM; false: one element at a time.</summary>
    bool TryCopy(ulong destination, ulong source, ulong bytes) => false;
}
