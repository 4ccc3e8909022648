using Vdi.Vmm.Devices;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Guest;

/// <summary>
/// The services a full guest program is built on: serial output, the IDT and its handlers, the local APIC.
/// A program emits its own flow (boot sequence, idle loop, later a desktop or drivers, each in its own emitter)
/// and calls <see cref="EmitRoutines"/> once after it, out of the fall-through path.
/// </summary>
internal sealed class GuestRuntime
{
    public GuestRuntime(GuestAssembly g)
    {
        Assembly = g;
        Serial = new SerialEmitter(g);
        Interrupts = new InterruptEmitter(g, Serial);
    }

    public GuestAssembly Assembly { get; }

    public SerialEmitter Serial { get; }

    public InterruptEmitter Interrupts { get; }

    /// <summary>Per-vCPU setup every vCPU runs first: load the IDT, enable the local APIC. Interrupts stay disabled.</summary>
    public void EmitCpuSetup()
    {
        Interrupts.EmitLoadIdt();
        ApicEmitter.EmitEnableLocalApic(Assembly.Asm, InterruptEmitter.SpuriousVector);
    }

    /// <summary>
    /// Serves a host request the interrupt handler flagged: clears the flag, reads the request port
    /// and, for a power-off request, prints <c>power off</c> and powers off with exit code 0.
    /// Falls through when nothing (or nothing known) was requested. Run it with interrupts disabled.
    /// </summary>
    public void EmitServeHostRequest()
    {
        var a = Assembly.Asm;
        var pending = Interrupts.HostRequestPending;
        var none = a.CreateLabel("no_host_request");
        a.cmp(__byte_ptr[pending], 0);
        a.je(none);
        a.mov(__byte_ptr[pending], 0);
        a.mov(dx, PortMap.HostRequest);
        a.@in(al, dx);
        a.cmp(al, PortMap.HostRequestPowerOff);
        a.jne(none);
        Serial.EmitPrint("power off\n");
        PowerPortEmitter.EmitPowerOff(a, 0);
        a.Label(ref none);
    }

    /// <summary>Emits the shared routines and interrupt handlers.</summary>
    public void EmitRoutines()
    {
        Serial.EmitRoutines();
        Interrupts.EmitHandlers();
    }
}
