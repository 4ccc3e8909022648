using Iced.Intel;
using Vdi.Guest.Desktop;
using Vdi.Guest.Drivers;
using Vdi.Guest.Paging;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Integrity;

/// <summary>
/// The terminal's attack commands, so that an administrator can watch the integrity protections catch what a rootkit
/// does (<c>docs/vmm.md</c>, "Desktop guest: paging and integrity driver"). Each prints what it attempts, makes the
/// attempt, and says whether the write landed (read back: audit mode and a machine without integrity apply it) or was
/// refused. Every attempt is harmless when it lands, and the desktop works on afterwards:
/// <list type="bullet">
/// <item><c>attack idt</c>: writes gate <see cref="GateVector"/>, which nothing raises, with the spurious-interrupt
/// gate (a hooked gate, the way a rootkit hooks a vector).</item>
/// <item><c>attack code</c>: writes <see cref="CodeTarget"/>, an <c>int3</c> byte in the kernel's code that never runs.</item>
/// <item><c>attack remap</c>: copies the IDT's page to <see cref="GuestPageTables.SparePage"/> and points the IDT's
/// page-table entry at the copy (the shadow-IDT pattern: no protected page is written), then <c>invlpg</c>; when that
/// landed the entry is put back.</item>
/// <item><c>attack dma</c>: asks the GPU for its display information with the reply's buffer in the integrity driver's
/// page, past its tree (<see cref="IntegrityDriverEmitter.SpareOffset"/>). A refused device write leaves the GPU
/// needing a reset, which its driver then does (<see cref="GpuDriverEmitter.Recover"/>, from the main loop on the
/// device's interrupt), showing the desktop again.</item>
/// </list>
/// </summary>
internal sealed class AttackEmitter
{
    public const byte GateVector = 0xF0;
    public const byte CodeByteAfter = 0x90;

    private readonly GuestAssembly _g;
    private readonly TerminalCommandEmitter _terminal;
    private readonly VirtioMmioEmitter _virtio;
    private readonly GpuCommandEmitter _gpu;
    private readonly Label _idt;
    private readonly Label _driverPage;
    private Label _idtAttack;
    private Label _codeAttack;
    private Label _remapAttack;
    private Label _dmaAttack;
    private Label _codeTarget;

    public AttackEmitter(GuestAssembly g, TerminalCommandEmitter terminal, Label idt, IntegrityDriverEmitter driver, VirtioMmioEmitter virtio, GpuCommandEmitter gpu)
    {
        _g = g;
        _terminal = terminal;
        _virtio = virtio;
        _gpu = gpu;
        _idt = idt;
        _driverPage = driver.Page;
        _idtAttack = g.CreateLabel("attack_idt");
        _codeAttack = g.CreateLabel("attack_code");
        _remapAttack = g.CreateLabel("attack_remap");
        _dmaAttack = g.CreateLabel("attack_dma");
        _codeTarget = g.CreateLabel("attack_code_target");
        terminal.Add("attack idt", _idtAttack);
        terminal.Add("attack code", _codeAttack);
        terminal.Add("attack remap", _remapAttack);
        terminal.Add("attack dma", _dmaAttack);
    }

    /// <summary>The code byte <c>attack code</c> writes: an <c>int3</c> after a <c>ret</c>, never executed.</summary>
    public Label CodeTarget => _codeTarget;

    public void EmitRoutines()
    {
        var a = _g.Asm;
        EmitAttack(ref _idtAttack, "attack idt: write to IDT gate 0xF0", ": refused\n", ": landed\n", () =>
        {
            a.lea(rdx, __[_idt]);
            a.mov(rax, __qword_ptr[rdx + (0xFF * 16)]);
            a.mov(__qword_ptr[rdx + (GateVector * 16)], rax);
            EmitLandedIf(() => a.cmp(__qword_ptr[rdx + (GateVector * 16)], rax));
        });

        EmitAttack(ref _codeAttack, "attack code: write to an unused byte of kernel code", ": refused\n", ": landed\n", () =>
        {
            a.lea(rdx, __[_codeTarget]);
            a.mov(__byte_ptr[rdx], CodeByteAfter);
            EmitLandedIf(() => a.cmp(__byte_ptr[rdx], CodeByteAfter));
        });
        _g.Bind(ref _codeTarget);
        a.int3();

        EmitAttack(ref _remapAttack, "attack remap: point the IDT's page at a copy", ": refused\n", ": landed, put back\n", EmitRemap);

        EmitAttack(ref _dmaAttack, "attack dma: GPU reply into the integrity driver's page", ": refused, the GPU restarts\n", ": landed\n", EmitDma);
    }

    /// <summary>
    /// A command's routine: prints <paramref name="title"/>, runs <paramref name="attempt"/> (which leaves ebx = 1 when
    /// the write landed, else 0, and may clobber everything but rbx and rbp), then prints the outcome and a new line.
    /// </summary>
    private void EmitAttack(ref Label routine, string title, string refused, string landed, Action attempt)
    {
        var a = _g.Asm;
        _g.Bind(ref routine);
        a.push(rbx);
        a.push(rbp);
        a.lea(rsi, __[_g.String(title)]);
        a.call(_terminal.Print);
        a.xor(ebx, ebx);
        attempt();
        a.lea(rsi, __[_g.String(refused)]);
        a.lea(rax, __[_g.String(landed)]);
        a.test(ebx, ebx);
        a.cmovnz(rsi, rax);
        a.call(_terminal.Print);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }

    /// <summary>ebx = 1 when <paramref name="compare"/> says equal.</summary>
    private void EmitLandedIf(Action compare)
    {
        var a = _g.Asm;
        var refused = a.CreateLabel("attack_refused");
        compare();
        a.jne(refused);
        a.mov(ebx, 1);
        a.Label(ref refused);
    }

    private void EmitRemap()
    {
        var a = _g.Asm;
        var refused = a.CreateLabel("attack_remap_refused");
        a.lea(rsi, __[_idt]);
        a.mov(edi, (uint)GuestPageTables.SparePage);
        a.mov(ecx, IntegrityDriverEmitter.PageSize / 4);
        a.rep.movsd();
        a.lea(r8, __[_idt]);
        a.mov(rdx, r8);
        a.shr(rdx, 12);
        a.lea(rdx, __[rdx * 8 + (int)GuestPageTables.KernelTable]); // the IDT's entry
        a.mov(rbp, __qword_ptr[rdx]);
        a.mov(rax, rbp);
        a.sub(rax, r8);
        a.add(rax, (int)GuestPageTables.SparePage); // the same entry, another page
        a.mov(__qword_ptr[rdx], rax);
        a.invlpg(__[r8]);
        a.cmp(__qword_ptr[rdx], rax);
        a.jne(refused);
        a.mov(ebx, 1);
        a.mov(__qword_ptr[rdx], rbp);
        a.invlpg(__[r8]);
        a.Label(ref refused);
    }

    private void EmitDma()
    {
        var a = _g.Asm;
        var refused = a.CreateLabel("attack_dma_refused");
        _gpu.EmitBegin(GpuCommandEmitter.GetDisplayInfo);
        a.mov(edi, DesktopMemoryMap.GpuControlQueue);
        a.mov(esi, DesktopMemoryMap.GpuRequest);
        a.mov(edx, 24);
        a.lea(rcx, __[_driverPage]);
        a.add(rcx, IntegrityDriverEmitter.SpareOffset);
        a.mov(r8d, IntegrityDriverEmitter.PageSize - IntegrityDriverEmitter.SpareOffset);
        a.mov(r9d, GpuCommandEmitter.Window);
        a.xor(r10d, r10d);
        a.call(_virtio.Submit);
        a.mov(eax, GpuCommandEmitter.Window);
        a.mov(ecx, __dword_ptr[rax + VirtioMmio.RegStatus]);
        a.test(ecx, VirtioMmio.StatusDeviceNeedsReset);
        a.jnz(refused);
        a.mov(ebx, 1);
        a.Label(ref refused);
    }
}
