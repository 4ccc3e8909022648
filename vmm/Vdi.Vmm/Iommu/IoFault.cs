namespace Vdi.Vmm.Iommu;

/// <summary>Why a DMA's translation failed; <see cref="None"/> when it did not.</summary>
public enum IoFault
{
    None,

    /// <summary>No leaf maps the I/O virtual address.</summary>
    NotPresent,

    /// <summary>A write to a page mapped read-only.</summary>
    ReadOnly,

    /// <summary>The address (or the access's end) lies beyond the 48-bit I/O address space.</summary>
    OutOfRange,
}

/// <summary>A DMA the IOMMU refused: the first faulting I/O virtual address, the domain's device and why.</summary>
public sealed record IommuFault(ulong Address, string Writer, IoFault Reason, bool Write)
{
    public override string ToString() =>
        $"{Writer}: DMA {(Write ? "write" : "read")} at IOVA 0x{Address:X} faulted: {Reason switch
        {
            IoFault.NotPresent => "not mapped",
            IoFault.ReadOnly => "mapped read-only",
            IoFault.OutOfRange => "outside the 48-bit I/O address space",
            _ => Reason.ToString(),
        }}";
}
