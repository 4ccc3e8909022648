namespace Vdi.Harness;

/// <summary>
/// Before anything is measured, each broker's hot paths run once — full motion, a few keys, a resize, through a
/// painting .NET client — so that neither isolation pays for the just-in-time compilation of code both share in
/// this process, and the built-in desktop's host process has run them too.
/// </summary>
internal static class WarmUp
{
    public static async Task RunAsync(Scenario s)
    {
        await using var viewer = await s.ControllerAsync(1920, 1080);
        s.Machine.SetMotion(true);
        await Task.Delay(s.Quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(3));
        s.Machine.SetMotion(false);
        for (var i = 0; i < 20; i++)
        {
            await viewer.KeyAsync("KeyA", down: true);
            await viewer.KeyAsync("KeyA", down: false);
            await Task.Delay(30);
        }
        await viewer.ChangeDisplayAsync(Scenario.Display(1280, 720));
        await viewer.FrameOfAsync(1280, 720);
    }
}
