namespace Vdi.Vmm.Integrity;

/// <summary>
/// The integrity driver's hypercalls (number in eax, arguments in rbx, rcx, rsi, rdi, result in rax; see
/// <c>docs/vmm.md</c>, "Guest integrity"). Every one is refused — <see cref="IntegrityResults"/> — unless the machine's
/// integrity level is on.
/// </summary>
public static class IntegrityHypercalls
{
    /// <summary>
    /// Once per boot: rbx = the driver's code start, rcx = its end (exclusive), rsi = its entry point (the address of
    /// its <c>out dx, eax</c>), rdi = the root of its protected-page tree (all guest-virtual, translated through the
    /// caller's CR3, which becomes the driver's). The code must lie inside pages the tree protects.
    /// </summary>
    public const uint Register = 0x100;

    /// <summary>Enters integrity mode: only from the registered entry point, with the registered CR3.</summary>
    public const uint Enter = 0x101;

    /// <summary>Leaves integrity mode: the VMM reads the tree again and traces what it now protects.</summary>
    public const uint Leave = 0x102;

    /// <summary>
    /// In integrity mode: rbx = the driver's privileged code (guest-virtual), rcx = its length (up to
    /// <see cref="PrivilegedMode.RegionSize"/>). The VMM copies it into the privileged region, which is outside the
    /// guest's physical address space, and returns the region's guest-physical address (at least 4 GiB; the window onto
    /// all of RAM is <see cref="PrivilegedMode.WindowOffset"/> above it) — or an <see cref="IntegrityResults"/> code.
    /// </summary>
    public const uint PrivilegedLoad = 0x103;

    /// <summary>
    /// From the entry point: waits until no other vCPU is in privileged mode, parks every other vCPU, maps the region and
    /// the window, and returns <see cref="IntegrityResults.Ok"/>; the caller then runs the region's code.
    /// </summary>
    public const uint PrivilegedEnter = 0x104;

    /// <summary>From the vCPU in privileged mode: unmaps the region and the window and lets the others run again.</summary>
    public const uint PrivilegedLeave = 0x105;
}

/// <summary>What the integrity hypercalls return in rax.</summary>
public static class IntegrityResults
{
    public const ulong Ok = 0;

    /// <summary>The machine's integrity level is off.</summary>
    public const ulong Disabled = 1;

    /// <summary>A driver registered already, or none has yet.</summary>
    public const ulong WrongState = 2;

    /// <summary>Refused: not from the entry point, wrong CR3, or not in integrity mode. An alert records it.</summary>
    public const ulong Refused = 3;

    /// <summary>The registration or the tree is malformed (see the alert's detail).</summary>
    public const ulong Invalid = 4;
}
