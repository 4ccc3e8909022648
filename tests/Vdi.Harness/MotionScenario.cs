namespace Vdi.Harness;

/// <summary>
/// Frame rate at 1920x1080 for the desktop's full-motion panel (960x540 redrawn at 60 Hz by the guest) and for
/// typing (a key every 16 ms, Enter every 40 keys so the terminal scrolls), painted by the .NET client in its own
/// process (<see cref="ViewerProcess"/>); with bytes per frame, the server's CPU per frame (the broker's process CPU
/// less the guests' vCPU threads: the viewer's receiving, decoding and painting are not in it) and the desktop's
/// (its vCPU threads in process, its host process out of process: <see cref="CpuMeter"/>).
/// </summary>
internal static class MotionScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        await using var viewer = await ViewerProcess.ControllerAsync(s, 1920, 1080, paint: true);
        var figures = new List<Figure>();

        s.Machine.SetMotion(true);
        await Task.Delay(1000);
        var cpu = new CpuMeter([s.Host]);
        var motion = await viewer.MotionAsync(s.Window);
        var (_, host, guest) = cpu.Read();
        s.Machine.SetMotion(false);
        figures.Add(new Figure("frame rate, full-motion panel 960x540 at 1920x1080", motion.Frames / motion.Seconds, null, "fps", "60 fps") { Compare = Comparison.FrameRate });
        figures.Add(Figures.Of("frame interval, full motion", motion.Intervals, "ms"));
        figures.Add(Figures.Of("bytes per frame, full motion", [.. motion.Bytes.Select(b => b / 1024.0)], "KiB"));
        figures.Add(new Figure("server CPU per frame, full motion", host.TotalMilliseconds / Math.Max(1, motion.Frames), null, "ms"));
        figures.Add(new Figure("desktop CPU per frame, full motion", guest.TotalMilliseconds / Math.Max(1, motion.Frames), null, "ms"));

        await viewer.SettleAsync(s.TopBarHeight());
        cpu = new CpuMeter([s.Host]);
        var typing = await viewer.TypeAsync(s.Window);
        (_, host, _) = cpu.Read();
        figures.Add(new Figure("frame rate, typing at 1920x1080 (a key every 16 ms)", typing.Frames / typing.Seconds, null, "fps", "60 fps") { Compare = Comparison.FrameRate });
        figures.Add(new Figure("keys typed per second, sustained typing", typing.Keys / typing.Seconds, null, "keys/s"));
        figures.Add(new Figure("bytes per keystroke, sustained typing", typing.Bytes.Sum() / (double)Math.Max(1, typing.Keys), null, "B"));
        figures.Add(new Figure("server CPU per frame, typing", host.TotalMilliseconds / Math.Max(1, typing.Frames), null, "ms"));
        return figures;
    }
}
