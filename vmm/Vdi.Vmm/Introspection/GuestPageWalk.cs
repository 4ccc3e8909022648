using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Introspection;

/// <summary>Why a guest-virtual address does not translate. The values travel in the host protocol's <c>GuestBytes</c>.</summary>
public enum WalkFault : byte
{
    None = 0,

    /// <summary>Bits 63:48 are not the sign extension of bit 47 (the guest would take #GP).</summary>
    NonCanonical = 1,

    /// <summary>An entry on the way is not present (#PF, P clear).</summary>
    NotPresent = 2,

    /// <summary>An entry on the way has reserved bits set (#PF with RSVD).</summary>
    Reserved = 3,

    /// <summary>A paging-structure entry, or the page itself, lies outside guest RAM.</summary>
    OutsideRam = 4,
}

/// <summary>
/// The outcome of one walk: the physical address (when <see cref="Fault"/> is <see cref="WalkFault.None"/>), the
/// rights the whole path grants, and the guest-physical address of every entry read on the way (PML4 entry first;
/// fewer than four for a 2 MiB or 1 GiB page, or a walk that stopped at a fault).
/// </summary>
public readonly record struct PageWalk(WalkFault Fault, ulong Linear, ulong Physical, ulong PageSize, bool Writable, bool User, bool NoExecute, ulong[] EntryAddresses)
{
    public bool Succeeded => Fault == WalkFault.None;

    /// <summary>The page-fault error code the guest would see for a read (P set when the fault was not a missing entry).</summary>
    public uint PageFaultErrorCode => Fault == WalkFault.Reserved ? 0b1001u : 0u;

    public override string ToString() => Succeeded
        ? $"0x{Linear:X} -> 0x{Physical:X} ({PageSize >> 10} KiB page{(Writable ? ", writable" : "")}{(User ? ", user" : "")}{(NoExecute ? ", NX" : "")})"
        : $"0x{Linear:X}: {Fault}";
}

/// <summary>
/// The host's walk of a guest's 4-level page tables, as the CPU would make it for a supervisor read, from a CR3 the
/// caller names. It reads the tables through <see cref="GuestMemory"/> only (never a raw pointer), changes nothing
/// (no accessed or dirty bits), and never throws for anything the guest put in its tables: a fault is a result.
/// </summary>
public static class GuestPageWalker
{
    private const ulong Present = 1UL << 0, Writable = 1UL << 1, User = 1UL << 2, Large = 1UL << 7, NoExecuteBit = 1UL << 63;

    /// <summary>MAXPHYADDR assumed for the reserved-bit check (the software engine's; KVM's vCPUs report theirs).</summary>
    public const int DefaultPhysicalAddressBits = 46;

    public static PageWalk Walk(GuestMemory memory, ulong cr3, ulong linear, int physicalAddressBits = DefaultPhysicalAddressBits)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var frameMask = ((1UL << physicalAddressBits) - 1) & ~0xFFFUL;
        var reservedAddress = ((1UL << 52) - 1) & ~0xFFFUL & ~frameMask;
        if ((ulong)((long)(linear << 16) >> 16) != linear)
            return Failed(WalkFault.NonCanonical, linear, []);
        var path = new List<ulong>(4);
        var table = cr3 & frameMask;
        bool writable = true, user = true, noExecute = false;
        Span<byte> raw = stackalloc byte[8];
        for (var level = 4; ; level--)
        {
            var address = table + (((linear >> (3 + (9 * level))) & 511) * 8);
            path.Add(address);
            if (!memory.TryRead(address, raw))
                return Failed(WalkFault.OutsideRam, linear, path);
            var entry = BitConverter.ToUInt64(raw);
            if ((entry & Present) == 0)
                return Failed(WalkFault.NotPresent, linear, path);
            var large = level is 2 or 3 && (entry & Large) != 0;
            var reserved = reservedAddress | (level == 4 ? Large : 0) | (large ? (level == 2 ? 0x1F_E000UL : 0x3FFF_E000UL) : 0);
            if ((entry & reserved) != 0)
                return Failed(WalkFault.Reserved, linear, path);
            writable &= (entry & Writable) != 0;
            user &= (entry & User) != 0;
            noExecute |= (entry & NoExecuteBit) != 0;
            if (level == 1 || large)
            {
                var size = level switch { 1 => 0x1000UL, 2 => 0x20_0000UL, _ => 0x4000_0000UL };
                var physical = (entry & frameMask & ~(size - 1)) | (linear & (size - 1));
                return memory.IsRam(physical & ~0xFFFUL, 0x1000)
                    ? new PageWalk(WalkFault.None, linear, physical, size, writable, user, noExecute, [.. path])
                    : Failed(WalkFault.OutsideRam, linear, path);
            }
            table = entry & frameMask;
        }
    }

    private static PageWalk Failed(WalkFault fault, ulong linear, List<ulong> path) => new(fault, linear, 0, 0, false, false, false, [.. path]);
}
