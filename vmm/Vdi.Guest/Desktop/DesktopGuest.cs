using Vdi.Guest.Drivers;
using Vdi.Guest.Integrity;
using Vdi.Guest.Paging;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;

namespace Vdi.Guest.Desktop;

/// <summary>
/// The built-in desktop guest: drives the machine's virtio-gpu, keyboard and tablet (see <c>docs/vmm.md</c>,
/// "Desktop guest") and draws a desktop — a top bar with the mode, DPI and UTC clock, and a terminal window showing
/// what is typed, with its attack commands — scaled to the display's DPI. It runs on page tables of its own and protects
/// its kernel with an integrity driver ("Desktop guest: paging and integrity driver"). vCPU 0 runs it; other vCPUs
/// idle. Serial output:
/// <code>
/// Vdi desktop guest
/// integrity: registered, N pages protected   (or: integrity: off, integrity: unavailable)
/// desktop WxH @ D dpi        (after every full repaint)
/// </code>
/// and <c>power off</c> when the host asks for it, as the plain built-in guest does. For benchmarks the host can switch
/// on a full-motion panel (<see cref="PortMap.HostRequestMotionOn"/>, <see cref="MotionPanel"/>) that changes
/// every pixel of the screen's bottom-right quadrant 60 times a second.
/// Needs <see cref="DesktopMemoryMap.RequiredMemory"/> bytes of RAM for its largest mode.
/// </summary>
public static class DesktopGuest
{
    public const string Name = "desktop";
    public const string WidthSymbol = "width";
    public const string HeightSymbol = "height";
    public const string DpiSymbol = "dpi";
    public const string UnitSymbol = "unit";
    public const string ClockXSymbol = "clock_x";
    public const string TextLengthSymbol = "text_length";
    public const string TextSymbol = "text";

    /// <summary>The terminal's cursor column (u32): where the next character is drawn.</summary>
    public const string ColumnSymbol = "column";

    /// <summary>Dword: 1 while the full-motion panel is on.</summary>
    public const string MotionOnSymbol = "motion_on";

    /// <summary>Dword: motion frames drawn and flushed since boot.</summary>
    public const string MotionFramesSymbol = "motion_frames";

    /// <summary>Qword: the host's wall clock (ms since the Unix epoch) when the desktop booted.</summary>
    public const string BootTimeSymbol = "boot_time";

    /// <summary>Dword: the integrity driver's registration result (<c>IntegrityResults</c>); all ones until it ran.</summary>
    public const string IntegrityStatusSymbol = "integrity_status";

    /// <summary>The integrity driver's page: its protected-page tree (<see cref="Integrity.ProtectedRegions"/>).</summary>
    public const string IntegrityDriverSymbol = "integrity_driver";

    /// <summary>The IDT, one page.</summary>
    public const string IdtSymbol = "idt";

    /// <summary>The never-executed code byte the terminal's <c>attack code</c> writes.</summary>
    public const string AttackCodeTargetSymbol = "attack_code_target";

    /// <summary>Height of the top bar (mode, DPI, clock) in units; a unit is <see cref="UnitSymbol"/> device pixels.</summary>
    public const int TopBarUnits = DesktopLayout.BarHeight;

    /// <summary>Width of the top bar's clock (from <see cref="ClockXSymbol"/>) in units; it is as tall as the bar.</summary>
    public const int ClockWidthUnits = DesktopLayout.ClockCells * DesktopFont.CellColumns;

    /// <summary>Frames per second the motion panel is redrawn at.</summary>
    public const int MotionFrameRate = 60;

    /// <summary>The motion panel in a <paramref name="width"/>×<paramref name="height"/> mode: the bottom-right quadrant, in device pixels.</summary>
    public static (int X, int Y, int Width, int Height) MotionPanel(int width, int height) => (width / 2, height / 2, width / 2, height / 2);

    /// <summary>
    /// The top bar's geometry the guest lays out for a <paramref name="width"/>×<paramref name="height"/> mode at
    /// <paramref name="dpi"/> (the DPI the guest read from the EDID, <see cref="DpiSymbol"/>): the unit
    /// (<see cref="UnitSymbol"/>: max(2, round(dpi / 48)), capped so the bar's longest line and the layout fit) and
    /// where the clock starts (<see cref="ClockXSymbol"/>: right after <c>"WxH  D dpi  "</c>). For hosts that cannot
    /// read guest memory (a desktop in a host process of its own).
    /// </summary>
    public static (int Unit, int ClockX) TopBar(int width, int height, int dpi)
    {
        var unit = Math.Min(Math.Max(2, (dpi + 24) / 48), Math.Min(width / DesktopLayout.BarWidthUnits, height / 50));
        var line = $"{width}x{height}  {dpi} dpi  ".Length;
        return (unit, unit * (DesktopLayout.BarTextX + (line * DesktopFont.CellColumns)));
    }

    public static GuestImage Build() => GuestAssembly.Build(Name, GuestLayout.ImageBase, g =>
    {
        var runtime = new GuestRuntime(g);
        var state = new DesktopState(g);
        var virtio = new VirtioMmioEmitter(g);
        var drawing = new DrawingEmitter(g, state);
        var format = new TextFormatEmitter(g);
        var gpuCommands = new GpuCommandEmitter(g, virtio, state);
        var gpu = new GpuDriverEmitter(runtime, virtio, gpuCommands, state);
        var terminal = new TerminalEmitter(g, state, drawing, gpuCommands.FlushRect);
        var painter = new DesktopPainter(g, state, drawing, format);
        var motion = new MotionEmitter(g, state, painter, gpuCommands.FlushRect);
        var input = new InputDriverEmitter(g, virtio, state);
        var interrupts = new DesktopInterruptEmitter(runtime, state);
        var idle = new IdleLoopEmitter(runtime);
        var paging = new PagingEmitter(g);
        var integrity = new IntegrityDriverEmitter(runtime);
        var commands = new TerminalCommandEmitter(g, state, terminal.Key);
        var attacks = new AttackEmitter(g, commands, runtime.Interrupts.Idt, integrity, virtio, gpuCommands);

        new DesktopLoopEmitter(runtime, state).Emit(new(paging, integrity, gpu, input, motion, interrupts, idle));
        idle.EmitBootstrap();
        idle.EmitApplicationProcessor();
        virtio.EmitRoutines();
        gpuCommands.EmitRoutines();
        gpu.EmitRoutines(motion.PaintScreen);
        input.EmitRoutines(commands.Key, gpuCommands.MoveCursorRoutine);
        drawing.EmitRoutines();
        format.EmitRoutines();
        painter.EmitRoutines(terminal.Replay, gpuCommands.FlushRect);
        terminal.EmitRoutines();
        commands.EmitRoutines();
        motion.EmitRoutines();
        interrupts.EmitHandlers();
        runtime.EmitRoutines();
        paging.EmitRoutines();
        integrity.EmitRoutines();
        attacks.EmitRoutines();
        integrity.EmitKernelCodeEnd();

        g.Export(WidthSymbol, state.Width);
        g.Export(HeightSymbol, state.Height);
        g.Export(DpiSymbol, state.Dpi);
        g.Export(UnitSymbol, state.Unit);
        g.Export(ClockXSymbol, state.ClockX);
        g.Export(TextLengthSymbol, state.TextLength);
        g.Export(TextSymbol, state.Text);
        g.Export(ColumnSymbol, state.Column);
        g.Export(MotionOnSymbol, state.MotionOn);
        g.Export(MotionFramesSymbol, state.MotionFrames);
        g.Export(BootTimeSymbol, state.BootTime);
        g.Export(IntegrityStatusSymbol, integrity.Status);
        g.Export(IntegrityDriverSymbol, integrity.Page);
        g.Export(IdtSymbol, runtime.Interrupts.Idt);
        g.Export(AttackCodeTargetSymbol, attacks.CodeTarget);
    });
}
