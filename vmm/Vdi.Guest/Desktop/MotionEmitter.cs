using Iced.Intel;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Desktop;

/// <summary>
/// The workload mode: a full-motion panel over the screen's bottom-right quadrant (<see cref="DesktopGuest.MotionPanel"/>)
/// that the host switches on and off with <see cref="PortMap.HostRequestMotionOn"/> and
/// <see cref="PortMap.HostRequestMotionOff"/>, so a benchmark sees the same load every run. While it is on, the LAPIC
/// timer ticks at 60 Hz (<see cref="DesktopInterruptEmitter.MotionTimerPeriod"/>) and every tick draws a frame —
/// horizontal bands of <see cref="BandRows"/> pixel rows, one <c>rep stosd</c> per row, moving up
/// <see cref="Speed"/> rows a frame with colours that change every frame (<see cref="ColourStep"/>), so every pixel of the panel
/// changes and no frame repeats or shifts an earlier one — and transfers and flushes only the
/// panel; the clock redraws on every <see cref="TicksPerClock"/>th tick. Switching off restores the one-second timer
/// and repaints the whole screen. A new mode keeps the mode on: the panel is recomputed from the mode each frame.
/// </summary>
internal sealed class MotionEmitter
{
    /// <summary>Pixel rows per band: <c>v &gt;&gt; BandShift</c> numbers the band of pattern row v.</summary>
    public const int BandShift = 2;
    public const int BandRows = 1 << BandShift;

    /// <summary>Pattern rows the bands move per frame: one band, so each pixel's band number grows by one a frame.</summary>
    public const int Speed = BandRows;

    /// <summary>
    /// Colour of band n in frame f = ((n · ColourStep) xor (f · FrameStep)) mod 2^24: within a frame consecutive bands
    /// differ (ColourStep is odd and xor with one value is a bijection); across frames the xor changes every band, so a
    /// frame is neither a shifted copy of the last one nor made of cells seen before — the encoder sees full motion.
    /// </summary>
    public const uint ColourStep = 0x0011_0905;

    /// <summary>Per-frame xor of the band colours (see <see cref="ColourStep"/>).</summary>
    public const uint FrameStep = 0x0035_7B3D;

    public const int TicksPerClock = 60;

    private readonly GuestAssembly _g;
    private readonly DesktopState _state;
    private readonly Label _paintDesktop;
    private readonly Label _drawClock;
    private readonly Label _flushRect;
    private Label _draw;
    private Label _tick;
    private Label _apply;
    private Label _paintScreen;
    private Label _repaint;

    public MotionEmitter(GuestAssembly g, DesktopState state, DesktopPainter painter, Label flushRect)
    {
        _g = g;
        _state = state;
        _paintDesktop = painter.Paint;
        _drawClock = painter.DrawClock;
        _flushRect = flushRect;
        _draw = g.CreateLabel("motion_draw");
        _tick = g.CreateLabel("desktop_tick");
        _apply = g.CreateLabel("motion_apply");
        _paintScreen = g.CreateLabel("paint_screen");
        _repaint = g.CreateLabel("repaint_screen");
    }

    /// <summary><c>desktop_tick(edi = timer ticks since the last call)</c>: the clock, or with motion a frame (and the clock every 60th tick).</summary>
    public Label Tick => _tick;

    /// <summary><c>motion_apply()</c>: switches the mode when <see cref="DesktopState.MotionWanted"/> differs from <see cref="DesktopState.MotionOn"/>.</summary>
    public Label Apply => _apply;

    /// <summary><c>paint_screen()</c>: the desktop and, in motion mode, the panel's current frame over it; nothing flushed.</summary>
    public Label PaintScreen => _paintScreen;

    /// <summary><c>repaint_screen()</c>: <see cref="PaintScreen"/>, then transfers and flushes the full frame.</summary>
    public Label Repaint => _repaint;

    /// <summary>
    /// Serves one host request for the main loop's request loop (al = request; clobbers nothing else):
    /// the motion requests set <see cref="DesktopState.MotionWanted"/>, anything else is ignored.
    /// </summary>
    public void EmitServeRequest()
    {
        var a = _g.Asm;
        var notOn = a.CreateLabel("motion_request_not_on");
        var done = a.CreateLabel("motion_request_done");
        a.cmp(al, PortMap.HostRequestMotionOn);
        a.jne(notOn);
        a.mov(__dword_ptr[_state.MotionWanted], 1);
        a.jmp(done);
        a.Label(ref notOn);
        a.cmp(al, PortMap.HostRequestMotionOff);
        a.jne(done);
        a.mov(__dword_ptr[_state.MotionWanted], 0);
        a.Label(ref done);
    }

    public void EmitRoutines()
    {
        EmitDraw();
        EmitTick();
        EmitApply();
        EmitPaintScreen();
    }

    /// <summary><c>motion_draw(edi = frame)</c>: fills the panel with that frame's bands. Clobbers rax, rcx, rdx, rsi, rdi, r9–r11 (keeps r8).</summary>
    private void EmitDraw()
    {
        var a = _g.Asm;
        var row = a.CreateLabel("motion_draw_row");
        var done = a.CreateLabel("motion_draw_done");
        _g.Bind(ref _draw);
        a.push(r8);
        a.mov(r8d, edi);
        a.imul(r8d, r8d, unchecked((int)FrameStep)); // this frame's xor
        a.mov(edx, edi);
        a.imul(edx, edx, Speed);                // pattern row of the panel's first row
        a.mov(r9d, __dword_ptr[_state.Width]);
        a.shr(r9d, 1);                         // panel width, and its left edge
        a.mov(r10d, __dword_ptr[_state.Height]);
        a.shr(r10d, 1);                        // panel height, and its top edge
        a.test(r10d, r10d);
        a.jz(done);
        a.mov(eax, r10d);
        a.imul(eax, __dword_ptr[_state.Width]);
        a.add(eax, r9d);
        a.lea(r11, __[rax * 4 + (int)DesktopMemoryMap.Framebuffer]);
        a.mov(esi, __dword_ptr[_state.Width]);
        a.shl(esi, 2);
        a.Label(ref row);
        a.mov(eax, edx);
        a.shr(eax, BandShift);
        a.imul(eax, eax, unchecked((int)ColourStep));
        a.xor(eax, r8d);
        a.and(eax, 0x00FF_FFFF);
        a.mov(rdi, r11);
        a.mov(ecx, r9d);
        a.rep.stosd();
        a.add(r11, rsi);
        a.inc(edx);
        a.dec(r10d);
        a.jnz(row);
        a.Label(ref done);
        a.pop(r8);
        a.ret();
    }

    private void EmitTick()
    {
        var a = _g.Asm;
        var motion = a.CreateLabel("desktop_tick_motion");
        var done = a.CreateLabel("desktop_tick_done");
        _g.Bind(ref _tick);
        a.cmp(__dword_ptr[_state.MotionOn], 0);
        a.jne(motion);
        a.mov(edi, 1);
        a.jmp(_drawClock);

        a.Label(ref motion);
        a.push(rbx);
        a.mov(ebx, edi);
        a.add(ebx, __dword_ptr[_state.MotionTicks]);
        a.cmp(__dword_ptr[_state.ResourceId], 0);
        a.je(done);
        // One frame, however many ticks passed: a late frame is better than a burst of them.
        a.mov(edi, __dword_ptr[_state.MotionFrames]);
        a.call(_draw);
        a.mov(edi, __dword_ptr[_state.Width]);
        a.shr(edi, 1);
        a.mov(esi, __dword_ptr[_state.Height]);
        a.shr(esi, 1);
        a.mov(edx, edi);
        a.mov(ecx, esi);
        a.call(_flushRect);
        a.inc(__dword_ptr[_state.MotionFrames]);
        a.cmp(ebx, TicksPerClock);
        a.jb(done);
        a.mov(eax, ebx);
        a.xor(edx, edx);
        a.mov(ecx, TicksPerClock);
        a.div(ecx);
        a.mov(ebx, edx);
        a.mov(edi, 1);
        a.call(_drawClock);
        a.Label(ref done);
        a.mov(__dword_ptr[_state.MotionTicks], ebx);
        a.pop(rbx);
        a.ret();
    }

    private void EmitApply()
    {
        var a = _g.Asm;
        var off = a.CreateLabel("motion_apply_off");
        var done = a.CreateLabel("motion_apply_done");
        _g.Bind(ref _apply);
        a.mov(eax, __dword_ptr[_state.MotionWanted]);
        a.cmp(eax, __dword_ptr[_state.MotionOn]);
        a.je(done);
        a.mov(__dword_ptr[_state.MotionOn], eax);
        a.test(eax, eax);
        a.jz(off);
        a.mov(__dword_ptr[_state.MotionTicks], 0);
        ApicEmitter.EmitStartPeriodicTimer(a, DesktopInterruptEmitter.TimerVector, DesktopInterruptEmitter.MotionTimerPeriod);
        a.ret();
        a.Label(ref off);
        ApicEmitter.EmitStartPeriodicTimer(a, DesktopInterruptEmitter.TimerVector, DesktopInterruptEmitter.TimerPeriod);
        a.jmp(_repaint);
        a.Label(ref done);
        a.ret();
    }

    private void EmitPaintScreen()
    {
        var a = _g.Asm;
        var noPanel = a.CreateLabel("paint_screen_no_panel");
        var done = a.CreateLabel("repaint_screen_done");
        _g.Bind(ref _paintScreen);
        a.call(_paintDesktop);
        a.cmp(__dword_ptr[_state.MotionOn], 0);
        a.je(noPanel);
        a.mov(edi, __dword_ptr[_state.MotionFrames]);
        a.dec(edi); // the frame on screen, so the next tick's frame still differs from it everywhere
        a.call(_draw);
        a.Label(ref noPanel);
        a.ret();

        _g.Bind(ref _repaint);
        a.cmp(__dword_ptr[_state.ResourceId], 0);
        a.je(done);
        a.call(_paintScreen);
        a.xor(edi, edi);
        a.xor(esi, esi);
        a.mov(edx, __dword_ptr[_state.Width]);
        a.mov(ecx, __dword_ptr[_state.Height]);
        a.call(_flushRect);
        a.Label(ref done);
        a.ret();
    }
}
