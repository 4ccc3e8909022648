using Iced.Intel;
using Vdi.Vmm.Images;

namespace Vdi.Guest.Desktop;

/// <summary>
/// The desktop guest's variables, each a dword in the image's data section unless noted. Only vCPU 0 touches them,
/// with interrupts disabled except for the <c>*Pending</c> flags the interrupt handlers set.
/// </summary>
internal sealed class DesktopState
{
    /// <summary>Bytes of kept text: more than the terminal's grid holds at 1920x1080 and 96 dpi (156 × 63 cells).</summary>
    public const int TextCapacity = 16 * 1024;

    /// <summary>Spare bytes after the kept text: moving it with <c>rep movsd</c> may touch up to three past its end.</summary>
    public const int TextSlack = 4;

    public const int LineCapacity = 64;

    public DesktopState(GuestAssembly g)
    {
        Width = g.Data("width", 4, 4);
        Height = g.Data("height", 4, 4);
        Dpi = g.Data("dpi", 4, 4);
        Unit = g.Data("unit", 4, 4);
        ResourceId = g.Data("resource_id", 4, 4);
        ClockX = g.Data("clock_x", 4, 4);
        ClockY = g.Data("clock_y", 4, 4);
        TextX = g.Data("text_x", 4, 4);
        TextY = g.Data("text_y", 4, 4);
        Columns = g.Data("columns", 4, 4);
        Rows = g.Data("rows", 4, 4);
        Column = g.Data("column", 4, 4);
        Row = g.Data("row", 4, 4);
        FlushText = g.Data("flush_text", 4, 4);
        TextLength = g.Data("text_length", 4, 4);
        Shift = g.Data("shift", 4, 4);
        PointerX = g.Data("pointer_x", 4, 4);
        PointerY = g.Data("pointer_y", 4, 4);
        PointerMoved = g.Data("pointer_moved", 4, 4);
        GpuPending = g.Data("gpu_pending", 4, 4);
        TickPending = g.Data("tick_pending", 4, 4);
        InputPending = g.Data("input_pending", 4, 4);
        RepaintPending = g.Data("repaint_pending", 4, 4);
        MotionWanted = g.Data("motion_wanted", 4, 4);
        MotionOn = g.Data("motion_on", 4, 4);
        MotionTicks = g.Data("motion_ticks", 4, 4);
        MotionFrames = g.Data("motion_frames", 4, 4);
        BootTime = g.Data("boot_time", 8, 8);
        Text = g.Data("text", TextCapacity + TextSlack, 8);
        Line = g.Data("line", LineCapacity, 8);
    }

    /// <summary>Current mode in pixels, and its DPI (from the EDID's physical width).</summary>
    public Label Width { get; }

    public Label Height { get; }

    public Label Dpi { get; }

    /// <summary>Device pixels per font dot: max(2, round(dpi / 48)), capped so the layout fits; every desktop measure is a multiple of it.</summary>
    public Label Unit { get; }

    /// <summary>GPU resource shown on the scanout (2 or 3; 0 before the first mode).</summary>
    public Label ResourceId { get; }

    /// <summary>Top-left pixel of the clock's 8 cells in the top bar.</summary>
    public Label ClockX { get; }

    public Label ClockY { get; }

    /// <summary>Top-left pixel of the terminal's text grid, its size in cells, and the next cell.</summary>
    public Label TextX { get; }

    public Label TextY { get; }

    public Label Columns { get; }

    public Label Rows { get; }

    public Label Column { get; }

    public Label Row { get; }

    /// <summary>Nonzero: the terminal flushes each cell it changes (typing); zero during a full repaint.</summary>
    public Label FlushText { get; }

    /// <summary>
    /// Bytes in <see cref="Text"/>: the typed text the terminal's grid shows, from the start of its top row (replayed on
    /// repaint). A scroll drops the top row's bytes; so does a full buffer, before it takes another byte.
    /// </summary>
    public Label TextLength { get; }

    public Label Shift { get; }

    public Label PointerX { get; }

    public Label PointerY { get; }

    public Label PointerMoved { get; }

    /// <summary>InterruptStatus bits the GPU's handler acknowledged (config change = display event).</summary>
    public Label GpuPending { get; }

    /// <summary>Timer ticks since the main loop last looked, counted by the LAPIC timer handler.</summary>
    public Label TickPending { get; }

    /// <summary>Set by the input devices' handlers (the loop drains both used rings on every wakeup anyway).</summary>
    public Label InputPending { get; }

    /// <summary>Nonzero: the whole screen is to be repainted from the desktop's model at the end of this wakeup.</summary>
    public Label RepaintPending { get; }

    /// <summary>What the host's latest motion request asked for (1 on, 0 off); applied by the main loop.</summary>
    public Label MotionWanted { get; }

    /// <summary>1 while the full-motion panel is on (the timer then ticks at 60 Hz).</summary>
    public Label MotionOn { get; }

    /// <summary>Ticks since the clock was last redrawn in motion mode (it redraws every 60th).</summary>
    public Label MotionTicks { get; }

    /// <summary>Motion frames drawn and flushed since boot (it also sets the panel's pattern).</summary>
    public Label MotionFrames { get; }

    public Label Text { get; }

    /// <summary>Qword: the host's wall clock (ms since the Unix epoch) when the desktop booted, for its uptime.</summary>
    public Label BootTime { get; }

    /// <summary>Scratch line for the top bar's text.</summary>
    public Label Line { get; }
}
