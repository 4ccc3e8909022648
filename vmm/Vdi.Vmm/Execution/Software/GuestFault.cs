namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// An exception the guest's instruction raised for the guest to handle (a page fault, a general-protection fault):
/// thrown by the access that found it, before the instruction committed anything, and caught where the instruction
/// started, which rolls RIP back to it and delivers <see cref="Vector"/> through the guest's IDT. Never leaves
/// <see cref="SoftCpu"/>.
/// </summary>
internal sealed class GuestFault : Exception
{
    public const byte GeneralProtection = 13;
    public const byte PageFault = 14;

    public GuestFault(byte vector, ulong errorCode, ulong address = 0)
        : base($"guest exception {vector}")
    {
        Vector = vector;
        ErrorCode = errorCode;
        Address = address;
    }

    public GuestFault()
        : this(GeneralProtection, 0)
    {
    }

    public GuestFault(string message)
        : base(message)
    {
    }

    public GuestFault(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public byte Vector { get; }

    public ulong ErrorCode { get; }

    /// <summary>For a page fault, the linear address that faulted (what CR2 receives).</summary>
    public ulong Address { get; }

    public static GuestFault Page(ulong address, PageFaultError error) => new(PageFault, (ulong)error, address);
}

/// <summary>The architectural page-fault error code bits the engine produces.</summary>
[Flags]
internal enum PageFaultError : ulong
{
    None = 0,

    /// <summary>The page was present: a protection violation (clear: not present).</summary>
    Present = 1 << 0,

    /// <summary>The access was a write.</summary>
    Write = 1 << 1,

    /// <summary>The access was made at CPL 3 (never, on this engine).</summary>
    User = 1 << 2,

    /// <summary>A paging-structure entry had a reserved bit set.</summary>
    Reserved = 1 << 3,

    /// <summary>The access was an instruction fetch (reported when EFER.NXE is set).</summary>
    InstructionFetch = 1 << 4,
}
