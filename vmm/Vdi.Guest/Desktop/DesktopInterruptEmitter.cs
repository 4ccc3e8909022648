using Iced.Intel;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Virtio;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Desktop;

/// <summary>
/// The desktop's interrupts. The three virtio devices' GSIs (I/O APIC pins 16–18, level triggered, active high) go to
/// <see cref="GpuVector"/>, <see cref="KeyboardVector"/> and <see cref="TabletVector"/>; each handler reads the
/// device's InterruptStatus, writes it back to InterruptACK (which drops the level line before the EOI), and records
/// the bits for the main loop. The LAPIC timer (<see cref="TimerVector"/>, periodic: one second, or 60 Hz in the workload's
/// motion mode, see <see cref="MotionEmitter"/>) counts ticks for the main loop.
/// Handlers only set flags: all device work happens in the main loop with interrupts disabled.
/// </summary>
internal sealed class DesktopInterruptEmitter
{
    public const byte GpuVector = 0x30;
    public const byte KeyboardVector = 0x31;
    public const byte TabletVector = 0x32;
    public const byte TimerVector = 0x40;
    public const uint TimerPeriod = 1_000_000_000; // 1 s at KVM's 1 GHz APIC bus, divide by 1
    public const uint MotionTimerPeriod = 16_666_667; // 60 Hz

    private readonly GuestRuntime _runtime;
    private readonly DesktopState _state;
    private readonly Label[] _handlers = new Label[4];

    public DesktopInterruptEmitter(GuestRuntime runtime, DesktopState state)
    {
        _runtime = runtime;
        _state = state;
        var g = runtime.Assembly;
        for (var i = 0; i < _handlers.Length; i++)
            _handlers[i] = g.CreateLabel($"desktop_interrupt_{i}");
        runtime.Interrupts.AddGate(GpuVector, _handlers[0]);
        runtime.Interrupts.AddGate(KeyboardVector, _handlers[1]);
        runtime.Interrupts.AddGate(TabletVector, _handlers[2]);
        runtime.Interrupts.AddGate(TimerVector, _handlers[3]);
    }

    /// <summary>Routes the virtio pins to vCPU 0 and starts its timer. Clobbers rax.</summary>
    public void EmitEnable()
    {
        var a = _runtime.Assembly.Asm;
        ApicEmitter.EmitRouteIoApicPin(a, MmioMap.VirtioGsi(MmioMap.GpuSlot), GpuVector, 0, levelTriggered: true);
        ApicEmitter.EmitRouteIoApicPin(a, MmioMap.VirtioGsi(MmioMap.KeyboardSlot), KeyboardVector, 0, levelTriggered: true);
        ApicEmitter.EmitRouteIoApicPin(a, MmioMap.VirtioGsi(MmioMap.TabletSlot), TabletVector, 0, levelTriggered: true);
        ApicEmitter.EmitStartPeriodicTimer(a, TimerVector, TimerPeriod);
    }

    public void EmitHandlers()
    {
        EmitDeviceHandler(ref _handlers[0], MmioMap.GpuSlot, _state.GpuPending);
        EmitDeviceHandler(ref _handlers[1], MmioMap.KeyboardSlot, _state.InputPending);
        EmitDeviceHandler(ref _handlers[2], MmioMap.TabletSlot, _state.InputPending);

        var a = _runtime.Assembly.Asm;
        _runtime.Assembly.Bind(ref _handlers[3]);
        a.push(rax);
        a.inc(__dword_ptr[_state.TickPending]);
        ApicEmitter.EmitEndOfInterrupt(a);
        a.pop(rax);
        a.iretq();
    }

    private void EmitDeviceHandler(ref Label handler, int slot, Label pending)
    {
        var a = _runtime.Assembly.Asm;
        _runtime.Assembly.Bind(ref handler);
        a.push(rax);
        a.push(rcx);
        a.mov(eax, (uint)MmioMap.VirtioAddress(slot));
        a.mov(ecx, __dword_ptr[rax + VirtioMmio.RegInterruptStatus]);
        a.mov(__dword_ptr[rax + VirtioMmio.RegInterruptAck], ecx);
        a.or(__dword_ptr[pending], ecx);
        ApicEmitter.EmitEndOfInterrupt(a);
        a.pop(rcx);
        a.pop(rax);
        a.iretq();
    }
}
