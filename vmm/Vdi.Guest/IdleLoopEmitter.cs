using Iced.Intel;
using Vdi.Vmm.Devices;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest;

/// <summary>
/// Where the built-in guest's vCPUs wait once booted. vCPU 0 serves host requests (<see cref="PortMap.HostRequest"/>,
/// announced by the host-request interrupt), ignoring any but power-off; the others only halt.
/// </summary>
internal sealed class IdleLoopEmitter
{
    private readonly GuestRuntime _runtime;
    private Label _bootstrap;
    private Label _applicationProcessor;

    public IdleLoopEmitter(GuestRuntime runtime)
    {
        _runtime = runtime;
        _bootstrap = runtime.Assembly.CreateLabel("bsp_idle");
        _applicationProcessor = runtime.Assembly.CreateLabel("ap_idle");
    }

    /// <summary>vCPU 0's idle loop.</summary>
    public Label Bootstrap => _bootstrap;

    /// <summary>The other vCPUs' idle loop.</summary>
    public Label ApplicationProcessor => _applicationProcessor;

    /// <summary>
    /// <code>
    /// loop: cli
    ///       if host_request_pending: pending = 0
    ///           until (al = in(HostRequest)) == None: if al == PowerOff: print "power off\n"; power off 0
    ///       sti; hlt; jmp loop
    /// </code>
    /// The check runs with interrupts off and <c>sti; hlt</c> are back to back (sti holds interrupts off for one more
    /// instruction), so a request that arrives after the check still wakes the <c>hlt</c>. Pending is cleared before the
    /// port is read, so a request posted after the read raises it again.
    /// </summary>
    public void EmitBootstrap()
    {
        var g = _runtime.Assembly;
        var a = g.Asm;

        g.Bind(ref _bootstrap);
        a.cli();
        _runtime.EmitServeHostRequest();
        a.sti();
        a.hlt();
        a.jmp(_bootstrap);
    }

    /// <summary><c>loop: sti; hlt; jmp loop</c>. Nothing is routed to these vCPUs; spurious interrupts just return.</summary>
    public void EmitApplicationProcessor()
    {
        var g = _runtime.Assembly;
        var a = g.Asm;
        g.Bind(ref _applicationProcessor);
        a.sti();
        a.hlt();
        a.jmp(_applicationProcessor);
    }
}
