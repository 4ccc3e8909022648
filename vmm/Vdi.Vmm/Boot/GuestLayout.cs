namespace Vdi.Vmm.Boot;

/// <summary>
/// Fixed guest-physical layout shared by the VMM's long-mode setup and the built-in guest.
/// Everything below 1 MiB is VMM-owned boot data; guest images load at <see cref="ImageBase"/>.
/// </summary>
public static class GuestLayout
{
    /// <summary>GDT: null, 64-bit code (0x08), data (0x10), 64-bit TSS (0x18, two slots).</summary>
    public const ulong GdtAddress = 0x1000;
    public const ushort CodeSelector = 0x08;
    public const ushort DataSelector = 0x10;
    public const ushort TssSelector = 0x18;
    public const ulong TssAddress = 0x2000;

    /// <summary>Identity page tables: PML4, one PDPT, four page directories of 2 MiB pages (first 4 GiB).</summary>
    public const ulong Pml4Address = 0x9000;
    public const ulong PdptAddress = 0xA000;
    public const ulong PageDirectoryAddress = 0xB000;
    public const int IdentityMappedGiB = 4;

    /// <summary>Per-vCPU stacks grow down from <see cref="StackTop"/>, <see cref="StackSize"/> bytes each.</summary>
    public const ulong StackTop = 0x80000;
    public const ulong StackSize = 0x4000;
    public const int MaxVcpus = 16;

    /// <summary>Guest images (code then data) are loaded here; the entry point is the image's first byte unless the image says otherwise.</summary>
    public const ulong ImageBase = 0x10_0000;

    /// <summary>Smallest RAM that holds the boot data, the stacks and a 1 MiB image.</summary>
    public const ulong MinimumMemory = 4UL << 20;

    /// <summary>Local APIC and I/O APIC windows (handled by the in-kernel irqchip).</summary>
    public const ulong LocalApicBase = 0xFEE0_0000;
    public const ulong IoApicBase = 0xFEC0_0000;

    public static ulong StackTopFor(int vcpuIndex) => StackTop - ((ulong)vcpuIndex * StackSize);
}
