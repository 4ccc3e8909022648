using System.Diagnostics;
using Vdi.Vmm.Devices.Display;

namespace Vdi.Vmm.Tests.Devices.Display;

/// <summary>
/// Every EDID the display device makes passes Debian's <c>edid-decode --check</c>, a validator nobody here wrote: from a
/// phone to 8K, with and without the DisplayID extension. As root the test installs the package when it is missing.
/// </summary>
public sealed class EdidDecodeTests
{
    private const string Tool = "/usr/bin/edid-decode";

    public static TheoryData<int, int, double, int> Modes => new()
    {
        { 640, 480, 96, 60 },
        { 1280, 720, 96, 60 },
        { 1366, 768, 120, 60 },
        { 1920, 1080, 96, 60 },
        { 1920, 1080, 144, 144 },
        { 2560, 1440, 192, 60 },
        { 3840, 2160, 192, 60 },
        { 4096, 2160, 96, 60 },
        { 5120, 2880, 218, 60 },
        { 7680, 4320, 96, 60 },
        { 1170, 2532, 460, 60 },
        { 390 * 3, 844 * 3, 3 * 96, 120 },
        { 800, 1280, 288, 60 },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Edid_decode_passes_every_edid_the_device_makes(int width, int height, double dpi, int refreshHz)
    {
        await Vdi.Tests.Shared.DebianPackage.EnsureInstalledAsync(Tool, "edid-decode", "the EDID tests check every EDID with Debian's validator");
        var file = Path.Combine(Path.GetTempPath(), $"vdi-edid-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(file, EdidGenerator.Generate(new DisplayProperties(width, height, dpi) { RefreshHz = refreshHz }));
        try
        {
            var info = new ProcessStartInfo(Tool) { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add("--check");
            info.ArgumentList.Add(file);
            using var process = Process.Start(info)!;
            var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(output.Contains("EDID conformity: PASS", StringComparison.Ordinal), output);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
