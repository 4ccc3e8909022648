using System.Buffers.Binary;
using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using Vdi.Vmm.Integrity;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Integrity;

/// <summary>
/// The desktop's integrity driver for the VMM's guest integrity (<c>vmm/Vdi.Vmm/Integrity/</c>; <c>docs/vmm.md</c>,
/// "Desktop guest: paging and integrity driver"). Its protected-page tree lives in a page of its own (<see cref="Page"/>): four 64-byte nodes, filled in when
/// the image is assembled — kernel code (the root), the driver's page (its right child), the IDT and the GDT with the TSS
/// (<see cref="ProtectedRegions"/>), all refused. At boot vCPU 0, on the desktop's own page tables, registers the driver
/// with the root and the driver's page linked, the rest of the tree written but not linked; then it links the IDT's
/// and the GDT's nodes through <c>integrity_protect</c>, the driver's one way to change its tree: a search for the free
/// child slot, then integrity mode entered from the lone <c>out dx, eax</c> at the driver's entry point, the link
/// stored, and integrity mode left (the VMM reads the tree again and traces what it now names).
/// Serial: <c>integrity: registered, N pages protected</c>, <c>integrity: off</c> when the machine's integrity is
/// off, or <c>integrity: unavailable</c> when the machine offers none.
/// </summary>
internal sealed class IntegrityDriverEmitter
{
    public const int PageSize = 0x1000;

    /// <summary>
    /// The driver's page from here to its end holds nothing (no node): the terminal's <c>attack dma</c> aims a device's
    /// write here, so that it harms nothing where it lands.
    /// </summary>
    public const int SpareOffset = 0x800;

    private const int DriverNode = 1, IdtNode = 2, GdtNode = 3, Nodes = 4; // node 0, kernel code, is the root

    private readonly GuestRuntime _runtime;
    private readonly Label _idt;
    private readonly Label _page;
    private readonly Label _status;
    private Label _start;
    private Label _protect;
    private Label _entryPoint;
    private Label _codeEnd;
    private Label _kernelCodeEnd;

    public IntegrityDriverEmitter(GuestRuntime runtime)
    {
        _runtime = runtime;
        var g = runtime.Assembly;
        _idt = runtime.Interrupts.Idt;
        _page = g.Data("integrity_driver", PageSize, GuestAssembly.MaxDataAlignment);
        _status = g.Data("integrity_status", BitConverter.GetBytes(uint.MaxValue), 4);
        _start = g.CreateLabel("integrity_start");
        _protect = g.CreateLabel("integrity_protect");
        _entryPoint = g.CreateLabel("integrity_entry_point");
        _codeEnd = g.CreateLabel("integrity_code_end");
        _kernelCodeEnd = g.CreateLabel("kernel_code_end");
    }

    /// <summary><c>integrity_start()</c>: registers the driver and protects the kernel (vCPU 0, at boot, after CR3 is the desktop's).</summary>
    public Label Start => _start;

    /// <summary>The driver's page: its tree's nodes, then <see cref="SpareOffset"/>.</summary>
    public Label Page => _page;

    /// <summary>Dword: the registration's result (<see cref="IntegrityResults"/>), or a protection's that failed; all ones before boot got there.</summary>
    public Label Status => _status;

    /// <summary>Emits the driver's code (its range is what it registers) and arranges for its tree to be filled in.</summary>
    public void EmitRoutines()
    {
        EmitStart();
        EmitProtect();
        _runtime.Assembly.Bind(ref _codeEnd);
        _runtime.Assembly.Asm.int3(); // the driver's code ends before this byte
        _runtime.Assembly.Patch(FillTree);
    }

    /// <summary>Marks the end of the image's code: emit it after every routine, right before the data.</summary>
    public void EmitKernelCodeEnd()
    {
        _runtime.Assembly.Bind(ref _kernelCodeEnd);
        _runtime.Assembly.Asm.int3();
    }

    private void EmitStart()
    {
        var a = _runtime.Assembly.Asm;
        var serial = _runtime.Serial;
        var notRegistered = a.CreateLabel("integrity_not_registered");
        var unavailable = a.CreateLabel("integrity_unavailable");
        var refused = a.CreateLabel("integrity_protection_refused");
        var done = a.CreateLabel("integrity_start_done");
        _runtime.Assembly.Bind(ref _start);
        a.push(rbx);
        // The CPU sets a segment descriptor's accessed bit when it loads one without it (CS on every interrupt, SS on
        // iretq): set them now, so that it never writes the protected GDT (on KVM such a write could not complete).
        a.or(__byte_ptr[GuestLayout.GdtAddress + GuestLayout.CodeSelector + 5], 1);
        a.or(__byte_ptr[GuestLayout.GdtAddress + GuestLayout.DataSelector + 5], 1);

        a.lea(rbx, __[_start]);
        a.lea(rcx, __[_codeEnd]);
        a.lea(rsi, __[_entryPoint]);
        a.lea(rdi, __[_page]); // the root: node 0
        a.mov(eax, IntegrityHypercalls.Register);
        a.mov(dx, PortMap.Hypercall);
        a.@out(dx, eax);
        a.mov(__dword_ptr[_status], eax);
        a.test(rax, rax);
        a.jnz(notRegistered);
        foreach (var node in (ReadOnlySpan<int>)[IdtNode, GdtNode])
        {
            a.lea(rdi, __[_page]);
            a.add(rdi, node * ProtectionTree.NodeSize);
            a.call(_protect);
            a.test(rax, rax);
            a.jnz(refused);
        }
        serial.EmitPrint("integrity: registered, ");
        a.xor(eax, eax);
        a.lea(rsi, __[_page]);
        for (var node = 0; node < Nodes; node++)
            a.add(rax, __qword_ptr[rsi + (node * ProtectionTree.NodeSize) + ProtectionTree.PagesOffset]);
        a.call(serial.PutDecimal);
        serial.EmitPrint(" pages protected\n");
        a.jmp(done);

        a.Label(ref refused);
        a.mov(__dword_ptr[_status], eax);
        serial.EmitPrint("integrity: a protection was refused, result ");
        a.call(serial.PutDecimal);
        serial.EmitPrintChar('\n');
        a.jmp(done);

        a.Label(ref notRegistered);
        a.cmp(rax, (int)IntegrityResults.Disabled);
        a.jne(unavailable);
        serial.EmitPrint("integrity: off\n");
        a.jmp(done);
        a.Label(ref unavailable);
        serial.EmitPrint("integrity: unavailable\n");
        a.Label(ref done);
        a.pop(rbx);
        a.ret();
    }

    /// <summary>
    /// <c>integrity_protect(rdi = node)</c> → rax = the result of leaving integrity mode (0: the VMM protects the node's
    /// pages now), or of entering it. The node must already hold its range; its links must be 0.
    /// </summary>
    private void EmitProtect()
    {
        var a = _runtime.Assembly.Asm;
        var walk = a.CreateLabel("integrity_protect_walk");
        var descend = a.CreateLabel("integrity_protect_descend");
        var done = a.CreateLabel("integrity_protect_done");
        _runtime.Assembly.Bind(ref _protect);
        a.push(rbx);
        a.lea(rsi, __[_page]); // the root: node 0
        a.mov(rdx, __qword_ptr[rdi + ProtectionTree.StartOffset]);
        a.Label(ref walk);
        a.lea(rbx, __[rsi + ProtectionTree.LeftOffset]);
        a.cmp(rdx, __qword_ptr[rsi + ProtectionTree.StartOffset]);
        a.jb(descend);
        a.lea(rbx, __[rsi + ProtectionTree.RightOffset]);
        a.Label(ref descend);
        a.mov(rsi, __qword_ptr[rbx]);
        a.test(rsi, rsi);
        a.jnz(walk);

        // rbx = the free slot. The entry point is this `out` alone: the bytes around it are no `out dx, eax`.
        a.mov(eax, IntegrityHypercalls.Enter);
        a.mov(dx, PortMap.Hypercall);
        a.Label(ref _entryPoint);
        a.@out(dx, eax);
        a.test(rax, rax);
        a.jnz(done);
        a.mov(__qword_ptr[rbx], rdi);
        a.mov(eax, IntegrityHypercalls.Leave);
        a.@out(dx, eax);
        a.Label(ref done);
        a.pop(rbx);
        a.ret();
    }

    private void FillTree(GuestImagePatcher patcher)
    {
        var page = patcher.At(_page, PageSize);
        var pageAddress = patcher.AddressOf(_page);
        var load = _runtime.Assembly.LoadAddress;
        var codeEnd = (patcher.AddressOf(_kernelCodeEnd) + 1 + PageSize - 1) & ~(ulong)(PageSize - 1);
        Node(page, 0, load, (codeEnd - load) / PageSize, ProtectedRegions.KernelCodeTag, right: pageAddress + (DriverNode * ProtectionTree.NodeSize));
        Node(page, DriverNode, pageAddress, 1, ProtectedRegions.DriverTag);
        Node(page, IdtNode, patcher.AddressOf(_idt), 1, ProtectedRegions.IdtTag);
        Node(page, GdtNode, GuestLayout.GdtAddress, ((GuestLayout.TssAddress - GuestLayout.GdtAddress) / PageSize) + 1, ProtectedRegions.GdtTag);
    }

    private static void Node(Span<byte> page, int index, ulong start, ulong pages, uint tag, ulong right = 0)
    {
        var node = page.Slice(index * ProtectionTree.NodeSize, ProtectionTree.NodeSize);
        BinaryPrimitives.WriteUInt64LittleEndian(node[ProtectionTree.StartOffset..], start);
        BinaryPrimitives.WriteUInt64LittleEndian(node[ProtectionTree.PagesOffset..], pages);
        BinaryPrimitives.WriteUInt32LittleEndian(node[ProtectionTree.ActionOffset..], (uint)ProtectedRegions.Action);
        BinaryPrimitives.WriteUInt32LittleEndian(node[ProtectionTree.TagOffset..], tag);
        BinaryPrimitives.WriteUInt64LittleEndian(node[ProtectionTree.RightOffset..], right);
    }
}
