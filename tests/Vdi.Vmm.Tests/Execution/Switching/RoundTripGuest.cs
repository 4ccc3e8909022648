using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Switching;

/// <summary>
/// A guest for the exact round trip: sets every general register and OF/SF/AF/CF-style flags in KVM, then runs a
/// cluster of four <c>out</c>s (the first exits; the policy hands the other three with the register moves between
/// them to the software engine), and back in KVM pushes RFLAGS and every register (the dump) and powers off.
/// </summary>
internal static class RoundTripGuest
{
    public const int Registers = 15; // all but rsp, in Gprs order
    public const int OutsInSoftware = 3;
    public const ulong CheckedFlags = 0x8D5; // CF PF AF ZF SF OF
    public const ulong ExpectedFlags = 0x890; // 0x7F + 1 in al: OF, SF, AF; no CF, ZF, PF

    private static readonly AssemblerRegister64[] s_gprs = [rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15];

    public static GuestImage Build()
    {
        var values = Initial();
        return GuestAssembly.Build("round-trip", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            for (var n = 0; n < s_gprs.Length; n++)
                a.mov(s_gprs[n], values[n]);
            a.mov(dx, PortMap.NullDevice);
            a.mov(al, 0x7F);
            a.add(al, 1); // OF, SF, AF set; CF, ZF, PF clear
            a.@out(dx, al);
            a.mov(r9, r10);
            a.@out(dx, al);
            a.lea(r11, __[r11 + 7]);
            a.@out(dx, al);
            a.mov(r13, r14);
            a.@out(dx, al);
            a.pushfq(); // not in the engine: the cluster ends here and KVM runs the rest
            for (var n = 0; n < s_gprs.Length; n++)
                a.push(s_gprs[n]); // the dump: RFLAGS, then rax ... r15 downwards from the stack top
            PowerPortEmitter.EmitPowerOff(a, 0);
        });
    }

    public static ulong[] Expected()
    {
        var v = Initial();
        v[0] = (v[0] & ~0xFFUL) | 0x80; // al = 0x7F + 1
        v[3] = (v[3] & ~0xFFFFUL) | PortMap.NullDevice; // dx
        v[8] = v[9]; // r9 = r10
        v[10] += 7; // r11
        v[12] = v[13]; // r13 = r14
        return v;
    }

    /// <summary>rax ... r15, then RFLAGS, as the guest pushed them.</summary>
    public static ulong[] ReadDump(Vmm.Machine.Machine machine)
    {
        var top = GuestLayout.StackTopFor(0);
        var registers = Enumerable.Range(0, Registers).Select(n => machine.Memory.Read<ulong>(top - (ulong)(8 * (n + 2))));
        return [.. registers, machine.Memory.Read<ulong>(top - 8)];
    }

    private static ulong[] Initial() => [.. Enumerable.Range(1, Registers).Select(n => 0x0101_0101_0101_0101UL * (ulong)n ^ ((ulong)n << 60))];
}
