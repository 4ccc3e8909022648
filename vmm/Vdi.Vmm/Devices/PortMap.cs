namespace Vdi.Vmm.Devices;

/// <summary>The I/O ports and interrupt lines of the standard machine. Guest code and devices both use these.</summary>
public static class PortMap
{
    /// <summary>16550 UART (COM1), 8 registers.</summary>
    public const ushort Com1 = 0x3F8;
    public const int Com1Irq = 4;

    /// <summary>
    /// Power / debug port block (16 bytes):
    /// +0 write (1–4 bytes): power off, the value is the exit code;
    /// +4 write (1 byte): boot-progress marker, timestamped by the host;
    /// +8 read (1 byte): the oldest pending host request, taken off the queue by the read
    /// (<see cref="HostRequestNone"/> when none is pending).
    /// </summary>
    public const ushort PowerBase = 0x500;
    public const ushort PowerOff = PowerBase + 0;
    public const ushort BootMarker = PowerBase + 4;
    public const ushort HostRequest = PowerBase + 8;
    public const int PowerLength = 16;
    public const byte HostRequestNone = 0;

    /// <summary>Power off (exit code 0).</summary>
    public const byte HostRequestPowerOff = 1;

    /// <summary>Desktop guest: start the workload's full-motion panel (redrawn at 60 Hz). Other guests ignore it.</summary>
    public const byte HostRequestMotionOn = 2;

    /// <summary>Desktop guest: stop the full-motion panel and repaint the desktop. Other guests ignore it.</summary>
    public const byte HostRequestMotionOff = 3;

    /// <summary>Requests the host can have pending at once; a guest that does not read them gets no more.</summary>
    public const int HostRequestQueueLength = 16;

    /// <summary>IRQ line (IOAPIC pin) the host pulses when it posts a request on <see cref="HostRequest"/>.</summary>
    public const int HostRequestIrq = 5;

    /// <summary>
    /// Hypercall port: <c>out dx, eax</c> with the hypercall number in eax and arguments in
    /// rbx, rcx, rsi, rdi; the result comes back in rax. An I/O port rather than <c>vmcall</c>,
    /// because KVM handles <c>vmcall</c> in the kernel and never exits to user space for it.
    /// </summary>
    public const ushort Hypercall = 0x510;
    public const int HypercallLength = 4;

    /// <summary>A port whose writes are acknowledged and dropped: the exit benchmark's target.</summary>
    public const ushort NullDevice = 0x520;

    /// <summary>Reads as a deterministic sequence (<see cref="Devices.SequenceDevice"/>): the exit-storm tests' and benchmark's device.</summary>
    public const ushort Sequence = 0x524;
    public const int SequenceLength = 4;

    /// <summary>
    /// Engine calibration port block (8 bytes), present only in the calibration machine: +0 read (4 bytes): the next
    /// loop to run (see <see cref="Execution.CalibrationPort"/>), +4 read (4 bytes): its iteration count.
    /// </summary>
    public const ushort Calibration = 0x530;
    public const int CalibrationLength = 8;

    /// <summary>
    /// The DMA exerciser (<see cref="Devices.DmaExerciser"/>, 12 bytes): +0 write (4 bytes) the window's first page
    /// number, +4 its length in pages, +8 a value the device writes into the window by DMA. The migration tests' and
    /// benchmark's device that writes guest memory all the time.
    /// </summary>
    public const ushort DmaExerciser = 0x540;
    public const int DmaExerciserLength = 12;
}
