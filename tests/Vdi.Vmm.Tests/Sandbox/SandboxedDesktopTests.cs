using SkiaSharp;
using Vdi.Vmm.Tests.Machine;

namespace Vdi.Vmm.Tests.Sandbox;

/// <summary>
/// The desktop behaves the same behind the sandbox: `vdi-vmm run --sandbox` builds the VM, applies the sandbox,
/// boots the desktop, takes the display, types and writes a screenshot into its own folder.
/// </summary>
public sealed class SandboxedDesktopTests
{
    [Fact]
    public Task Sandboxed_desktop_takes_the_display_types_and_screenshots_on_the_software_engine() => RunAsync("software");

    internal static async Task RunAsync(string engine)
    {
        using var work = VmmProcess.Folder("desktop");
        var shot = Path.Combine(work.Path, "shot.png");
        var run = await VmmProcess.RunAsync("run", "--sandbox", "--sandbox-dir", work.Path, "--memory-limit", "2048",
            "--engine", engine, "--display", "1280x720@96", "--type", "hello", "--screenshot", shot);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}; stderr: {run.Stderr}");
        Assert.Matches("vdi-vmm: sandbox: (Full|Partial)", run.Stderr);
        Assert.Contains("vdi-vmm: sandbox: seccomp: ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("seccomp: unavailable", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("vdi-vmm: sandbox: filesystem: pivot_root", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("display 1280x720 @ 96 dpi shown", run.Stdout, StringComparison.Ordinal);
        Assert.Contains($"screenshot 1280x720 written to {shot}", run.Stdout, StringComparison.Ordinal);

        // "hello" is drawn on the terminal's first line: glyph pixels differ from the terminal's background.
        using var image = SKBitmap.Decode(shot);
        var background = image.GetPixel(640, 400);
        var glyphs = 0;
        for (var y = 60; y < 80; y++)
        {
            for (var x = 18; x < 90; x++)
            {
                if (image.GetPixel(x, y) != background)
                    glyphs++;
            }
        }
        Assert.True(glyphs > 50, $"only {glyphs} glyph pixels where 'hello' should be");
    }
}

[Trait("Requires", KvmMachines.Trait)]
public sealed class SandboxedKvmDesktopTests
{
    [Fact]
    public Task Sandboxed_desktop_takes_the_display_types_and_screenshots_on_kvm() => SandboxedDesktopTests.RunAsync("kvm");
}
