using Vdi.Vmm.Boot;
using Vdi.Vmm.Guest.Drivers;

namespace Vdi.Vmm.Guest.Desktop;

/// <summary>
/// The built-in desktop guest: drives the machine's virtio-gpu, keyboard and tablet (see <c>docs/vmm.md</c>,
/// "Desktop guest") and draws a desktop — a top bar with the mode, DPI and UTC clock, and a terminal window showing
/// what is typed — scaled to the display's DPI. vCPU 0 runs it; other vCPUs idle. Serial output:
/// <code>
/// Vdi desktop guest
/// desktop WxH @ D dpi        (after every full repaint)
/// </code>
/// and <c>power off</c> when the host asks for it, as the plain built-in guest does.
/// Needs <see cref="DesktopMemoryMap.RequiredMemory"/> bytes of RAM for its largest mode.
/// </summary>
public static class DesktopGuest
{
    public const string Name = "desktop";
    public const string WidthSymbol = "width";
    public const string HeightSymbol = "height";
    public const string DpiSymbol = "dpi";
    public const string UnitSymbol = "unit";
    public const string TextLengthSymbol = "text_length";
    public const string TextSymbol = "text";

    public static GuestImage Build() => GuestAssembly.Build(Name, GuestLayout.ImageBase, g =>
    {
        var runtime = new GuestRuntime(g);
        var state = new DesktopState(g);
        var virtio = new VirtioMmioEmitter(g);
        var drawing = new DrawingEmitter(g, state);
        var format = new TextFormatEmitter(g);
        var commands = new GpuCommandEmitter(g, virtio, state);
        var gpu = new GpuDriverEmitter(runtime, virtio, commands, state);
        var terminal = new TerminalEmitter(g, state, drawing, commands.FlushRect);
        var painter = new DesktopPainter(g, state, drawing, format);
        var input = new InputDriverEmitter(g, virtio, state);
        var interrupts = new DesktopInterruptEmitter(runtime, state);
        var idle = new IdleLoopEmitter(runtime);

        new DesktopLoopEmitter(runtime, state).Emit(gpu, input, painter, interrupts, idle);
        idle.EmitBootstrap();
        idle.EmitApplicationProcessor();
        virtio.EmitRoutines();
        commands.EmitRoutines();
        gpu.EmitRoutines(painter.Paint);
        input.EmitRoutines(terminal.Key, commands.MoveCursorRoutine);
        drawing.EmitRoutines();
        format.EmitRoutines();
        painter.EmitRoutines(terminal.Replay, commands.FlushRect);
        terminal.EmitRoutines();
        interrupts.EmitHandlers();
        runtime.EmitRoutines();

        g.Export(WidthSymbol, state.Width);
        g.Export(HeightSymbol, state.Height);
        g.Export(DpiSymbol, state.Dpi);
        g.Export(UnitSymbol, state.Unit);
        g.Export(TextLengthSymbol, state.TextLength);
        g.Export(TextSymbol, state.Text);
    });
}
