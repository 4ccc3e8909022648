using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest;

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
    /// Serves the host requests the interrupt handler flagged: clears the flag, then reads the request port until it
    /// says <see cref="PortMap.HostRequestNone"/> (each read takes one request off the host's queue). A power-off request
    /// prints <c>power off</c> and powers off with exit code 0; any other request goes to <paramref name="serveOther"/>,
    /// which is emitted once with the request in al and may clobber rax and rdx; without it, other requests are ignored.
    /// Falls through when nothing is left. Run it with interrupts disabled.
    /// </summary>
    public void EmitServeHostRequest(Action? serveOther = null)
    {
        var a = Assembly.Asm;
        var pending = Interrupts.HostRequestPending;
        var none = a.CreateLabel("no_host_request");
        var next = a.CreateLabel("next_host_request");
        var other = a.CreateLabel("other_host_request");
        a.cmp(__byte_ptr[pending], 0);
        a.je(none);
        a.mov(__byte_ptr[pending], 0);
        a.Label(ref next);
        a.mov(dx, PortMap.HostRequest);
        a.@in(al, dx);
        a.cmp(al, PortMap.HostRequestNone);
        a.je(none);
        a.cmp(al, PortMap.HostRequestPowerOff);
        a.jne(other);
        Serial.EmitPrint("power off\n");
        PowerPortEmitter.EmitPowerOff(a, 0);
        a.Label(ref other);
        serveOther?.Invoke();
        a.jmp(next);
        a.Label(ref none);
    }

    /// <summary>Emits the shared routines and interrupt handlers.</summary>
    public void EmitRoutines()
    {
        Serial.EmitRoutines();
        Interrupts.EmitHandlers();
    }
}
