using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Bench;

/// <summary>The guest of <c>vdi-vmm bench exits</c>, loaded at <see cref="GuestLayout.ImageBase"/>.</summary>
public static class ExitLoopGuest
{
    /// <summary>
    /// The exit benchmark: <c>mov ecx, iterations; mov dx, NullDevice; L: out dx, al; dec ecx; jnz L</c>, then power off
    /// with 0. Position independent, so a reference program may load the same bytes anywhere.
    /// </summary>
    /// <param name="iterations">Port writes (VM exits) to make; at least 1.</param>
    public static GuestImage Build(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        return GuestAssembly.Build("exit-loop", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var loop = a.CreateLabel("loop");
            a.mov(ecx, iterations);
            a.mov(dx, PortMap.NullDevice);
            a.Label(ref loop);
            a.@out(dx, al);
            a.dec(ecx);
            a.jnz(loop);
            PowerPortEmitter.EmitPowerOff(a, 0);
        });
    }
}
