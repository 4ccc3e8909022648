namespace Vdi.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The README's pictures, taken by the tests when VDI_SCREENSHOTS=1 and written to docs/screenshots/;
/// otherwise nothing is written, so ordinary runs leave the checkout clean.
/// </summary>
public static class Screenshots
{
    public const string EnvironmentVariable = "VDI_SCREENSHOTS";

    public static bool Enabled => Environment.GetEnvironmentVariable(EnvironmentVariable) == "1";

    /// <summary>Writes a full-page PNG named <paramref name="name"/>.png when screenshots are enabled.</summary>
    public static async Task SaveAsync(IPage page, string name)
    {
        ArgumentNullException.ThrowIfNull(page);
        if (!Enabled)
            return;
        var folder = RepositoryRoot.Combine("docs", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, $"{name}.png"), FullPage = true, Type = ScreenshotType.Png });
    }
}
