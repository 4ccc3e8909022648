using Iced.Intel;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Guest.Paging.GuestPageTables;

namespace Vdi.Guest.Paging;

/// <summary>
/// The desktop guest's own paging, as an OS sets it up: vCPU 0 builds the tables of <see cref="GuestPageTables"/> and
/// loads CR3 before anything depends on it; every other vCPU waits for them (a short spin at boot) and loads the same
/// CR3. From then on no vCPU uses the VMM's boot tables.
/// </summary>
internal sealed class PagingEmitter
{
    private const int PageDirectoryEntries = MappedGiB * 512;
    private const int TableEntries = 512;

    private readonly GuestAssembly _g;
    private readonly Label _ready;
    private Label _build;

    public PagingEmitter(GuestAssembly g)
    {
        _g = g;
        _ready = g.Data("paging_ready", 4, 4);
        _build = g.CreateLabel("paging_build");
    }

    /// <summary><c>paging_build()</c>: vCPU 0 writes the tables, loads CR3 and lets the other vCPUs go on. Clobbers rax, rcx, rdi.</summary>
    public Label Build => _build;

    /// <summary>What every other vCPU runs first: waits until vCPU 0 has built the tables, then loads them. Clobbers rax.</summary>
    public void EmitWaitAndLoad()
    {
        var a = _g.Asm;
        var check = a.CreateLabel("paging_wait_check");
        var spin = a.CreateLabel("paging_wait_spin");
        a.jmp(check);
        a.Label(ref spin);
        a.pause();
        a.Label(ref check);
        a.cmp(__dword_ptr[_ready], 0);
        a.je(spin);
        a.mov(eax, (uint)Pml4);
        a.mov(cr3, rax);
    }

    public void EmitRoutines()
    {
        var a = _g.Asm;
        _g.Bind(ref _build);
        // The region starts zeroed: entries not written below are not present.
        a.mov(edi, (uint)Region);
        a.xor(eax, eax);
        a.mov(ecx, (int)((RegionEnd - Region) / 4));
        a.rep.stosd();

        // 2 MiB pages for all of the mapped GiBs, then the first 2 MiB handed to the kernel table instead.
        EmitFill("paging_large", PageDirectories, LargePageFlags, 0x20_0000, PageDirectoryEntries);
        EmitFill("paging_small", KernelTable, PageFlags, 0x1000, TableEntries);
        EmitFill("paging_directories", Pdpt, PageDirectories | TableFlags, 0x1000, MappedGiB);
        a.mov(eax, (uint)(KernelTable | TableFlags));
        a.mov(__qword_ptr[PageDirectories], rax);
        a.mov(eax, (uint)(Pdpt | TableFlags));
        a.mov(__qword_ptr[Pml4], rax);

        a.mov(eax, (uint)Pml4);
        a.mov(cr3, rax);
        a.mov(__dword_ptr[_ready], 1); // a plain store: x86 keeps it after the table writes
        a.ret();
    }

    /// <summary><paramref name="count"/> entries from <paramref name="table"/>: <paramref name="first"/>, then each <paramref name="step"/> higher.</summary>
    private void EmitFill(string name, ulong table, ulong first, int step, int count)
    {
        var a = _g.Asm;
        var loop = a.CreateLabel(name);
        a.mov(edi, (uint)table);
        a.mov(eax, (uint)first);
        a.mov(ecx, count);
        a.Label(ref loop);
        a.mov(__qword_ptr[rdi], rax);
        a.add(rax, step);
        a.add(rdi, 8);
        a.dec(ecx);
        a.jnz(loop);
    }
}
