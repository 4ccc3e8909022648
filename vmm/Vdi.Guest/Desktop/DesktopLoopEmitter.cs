using Iced.Intel;
using Vdi.Guest.Drivers;
using Vdi.Guest.Integrity;
using Vdi.Guest.Paging;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Desktop;

/// <summary>What the main loop drives.</summary>
internal sealed record DesktopParts(
    PagingEmitter Paging,
    IntegrityDriverEmitter Integrity,
    GpuDriverEmitter Gpu,
    InputDriverEmitter Input,
    MotionEmitter Motion,
    DesktopInterruptEmitter Interrupts,
    IdleLoopEmitter Idle);

/// <summary>
/// The desktop's entry and main loop. vCPU 0 loads its own page tables, announces itself, registers its integrity
/// driver, starts the GPU (falling back to the plain idle loop, which still serves power-off, when there is none), shows
/// the first mode, starts input, enables interrupts and then loops: with interrupts disabled it serves host requests
/// (switching the motion panel if asked, see <see cref="MotionEmitter"/>), a display event (a GPU that asks for a reset
/// is restarted first; events_read bit 0 → events_clear, <see cref="GpuDriverEmitter.Configure"/>), timer ticks,
/// pending input (with the commands typed in the terminal) and a repaint the terminal asked for; then
/// <c>sti; hlt</c>. Other vCPUs load the same page tables once vCPU 0 has built them, and idle.
/// </summary>
internal sealed class DesktopLoopEmitter
{
    private const int GpuConfigEventsRead = VirtioMmio.RegConfig;
    private const int GpuConfigEventsClear = VirtioMmio.RegConfig + 4;
    private const uint DisplayEvent = 1;

    private readonly GuestRuntime _runtime;
    private readonly DesktopState _state;

    public DesktopLoopEmitter(GuestRuntime runtime, DesktopState state)
    {
        _runtime = runtime;
        _state = state;
    }

    public void Emit(DesktopParts parts)
    {
        var (paging, integrity, gpu, input, motion, interrupts, idle) = parts;
        var a = _runtime.Assembly.Asm;
        var serial = _runtime.Serial;
        var gpuReady = a.CreateLabel("desktop_gpu_ready");
        var loop = a.CreateLabel("desktop_loop");
        var applicationProcessor = a.CreateLabel("desktop_application_processor");

        a.mov(r12, rdi);
        a.mov(r13, rsi);
        _runtime.EmitCpuSetup();
        a.test(r12, r12);
        a.jnz(applicationProcessor);
        PowerPortEmitter.EmitBootMarker(a, BootMarkers.Entered);
        a.call(paging.Build);
        serial.EmitPrint("Vdi desktop guest\n");
        a.mov(eax, HypercallNumbers.WallClock);
        a.mov(dx, PortMap.Hypercall);
        a.@out(dx, eax);
        a.mov(__qword_ptr[_state.BootTime], rax);
        a.call(integrity.Start);

        ApicEmitter.EmitRouteIoApicPin(a, PortMap.HostRequestIrq, InterruptEmitter.HostRequestVector, destinationApicId: 0);
        a.mov(__byte_ptr[_runtime.Interrupts.HostRequestPending], 1); // poll once for a request posted before the route
        a.call(gpu.Start);
        a.test(eax, eax);
        a.jz(gpuReady);
        serial.EmitPrint("desktop: no display, virtio-gpu error ");
        a.call(serial.PutDecimal);
        serial.EmitPrintChar('\n');
        a.jmp(idle.Bootstrap);

        a.Label(ref gpuReady);
        a.call(gpu.Configure);
        a.call(input.Start);
        interrupts.EmitEnable();
        PowerPortEmitter.EmitBootMarker(a, BootMarkers.Idle);

        a.Label(ref loop);
        a.cli();
        _runtime.EmitServeHostRequest(motion.EmitServeRequest);
        a.call(motion.Apply);
        EmitDisplayEvent(gpu);
        var noTick = a.CreateLabel("desktop_no_tick");
        a.mov(edi, __dword_ptr[_state.TickPending]);
        a.test(edi, edi);
        a.jz(noTick);
        a.mov(__dword_ptr[_state.TickPending], 0);
        a.call(motion.Tick);
        a.Label(ref noTick);
        a.mov(__dword_ptr[_state.InputPending], 0);
        a.call(input.Poll);
        var noRepaint = a.CreateLabel("desktop_no_repaint");
        a.cmp(__dword_ptr[_state.RepaintPending], 0);
        a.je(noRepaint);
        a.mov(__dword_ptr[_state.RepaintPending], 0);
        a.call(motion.Repaint);
        a.Label(ref noRepaint);
        a.sti();
        a.hlt();
        a.jmp(loop);

        a.Label(ref applicationProcessor);
        paging.EmitWaitAndLoad();
        a.jmp(idle.ApplicationProcessor);
    }

    private void EmitDisplayEvent(GpuDriverEmitter gpu)
    {
        var a = _runtime.Assembly.Asm;
        var none = a.CreateLabel("desktop_no_display_event");
        a.test(__dword_ptr[_state.GpuPending], VirtioMmio.InterruptConfigChange);
        a.mov(__dword_ptr[_state.GpuPending], 0);
        a.jz(none);
        a.call(gpu.Recover); // a device that asked for a reset comes back first; its events went with it
        a.mov(eax, GpuCommandEmitter.Window);
        a.mov(ecx, __dword_ptr[rax + GpuConfigEventsRead]);
        a.test(ecx, DisplayEvent);
        a.jz(none);
        a.mov(__dword_ptr[rax + GpuConfigEventsClear], ecx);
        a.call(gpu.Configure);
        a.Label(ref none);
    }
}
