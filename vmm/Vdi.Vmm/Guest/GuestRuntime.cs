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

    /// <summary>Emits the shared routines and interrupt handlers.</summary>
    public void EmitRoutines()
    {
        Serial.EmitRoutines();
        Interrupts.EmitHandlers();
    }
}
