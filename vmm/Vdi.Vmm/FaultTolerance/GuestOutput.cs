namespace Vdi.Vmm.FaultTolerance;

/// <summary>What leaves a machine for the outside world, and is compared between primary and secondary.</summary>
public enum OutputKind : byte
{
    /// <summary>A byte written to the serial port: A = the byte.</summary>
    Serial = 1,

    /// <summary>A frame flushed to the scanout: A = its rectangle (x, y, width, height, 16 bits each), Hash = its pixels' XxHash3.</summary>
    Frame = 2,
}

/// <summary>
/// One output, at the count of instructions the vCPU had retired when it left. Two machines on the same path produce
/// the same outputs in the same order at the same counts; the first that differs is where they parted.
/// </summary>
public readonly record struct GuestOutput(long Count, OutputKind Kind, ulong A, ulong Hash)
{
    public static ulong Rect(int x, int y, int width, int height) =>
        (ulong)(ushort)x | ((ulong)(ushort)y << 16) | ((ulong)(ushort)width << 32) | ((ulong)(ushort)height << 48);

    public override string ToString() => Kind == OutputKind.Frame
        ? $"frame {(ushort)(A >> 32)}x{(ushort)(A >> 48)} at ({(ushort)A}, {(ushort)(A >> 16)}) #{Hash:X16} at {Count}"
        : $"{Kind} 0x{A:X2} at {Count}";
}
