using Iced.Intel;
using Vdi.Vmm.Devices;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Images;

/// <summary>Guest code for the power/debug port block (<see cref="PortMap.PowerBase"/>): power off and boot markers.</summary>
public static class PowerPortEmitter
{
    /// <summary><c>out</c> a boot-progress marker byte. Clobbers dx and al.</summary>
    public static void EmitBootMarker(Assembler a, byte marker)
    {
        a.mov(dx, PortMap.BootMarker);
        a.mov(al, marker);
        a.@out(dx, al);
    }

    /// <summary>Powers off with a constant exit code; never returns.</summary>
    public static void EmitPowerOff(Assembler a, uint exitCode)
    {
        a.mov(eax, exitCode);
        EmitPowerOffWithEax(a);
    }

    /// <summary>Powers off with the exit code in eax; never returns.</summary>
    public static void EmitPowerOffWithEax(Assembler a)
    {
        a.mov(dx, PortMap.PowerOff);
        a.@out(dx, eax);
        EmitHaltForever(a);
    }

    /// <summary>
    /// <c>cli; L: hlt; jmp L</c>. Stops the vCPU for good if the host keeps running it (e.g. after a power-off write).
    /// Position independent.
    /// </summary>
    public static void EmitHaltForever(Assembler a)
    {
        var halt = a.CreateLabel("halt_forever");
        a.cli();
        a.Label(ref halt);
        a.hlt();
        a.jmp(halt);
    }
}
