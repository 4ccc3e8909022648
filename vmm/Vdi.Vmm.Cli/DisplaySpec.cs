using System.Globalization;
using System.Text.RegularExpressions;
using Vdi.Vmm.Devices.Display;

namespace Vdi.Vmm.Cli;

/// <summary>Parses `WIDTHxHEIGHT[@DPI]` (for example 1280x720@96) into display properties.</summary>
internal static partial class DisplaySpec
{
    [GeneratedRegex(@"^(?<w>\d{1,5})x(?<h>\d{1,5})(@(?<dpi>\d{1,4}(\.\d+)?))?$")]
    private static partial Regex Pattern();

    public static DisplayProperties Parse(string text)
    {
        var m = Pattern().Match(text);
        if (!m.Success)
            throw new ArgumentException($"--display must look like 1280x720 or 1280x720@96, not '{text}'");
        var properties = new DisplayProperties(
            int.Parse(m.Groups["w"].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups["h"].Value, CultureInfo.InvariantCulture),
            m.Groups["dpi"].Success ? double.Parse(m.Groups["dpi"].Value, CultureInfo.InvariantCulture) : 96);
        if (DisplayProperties.Validate(properties) is { } error)
            throw new ArgumentException($"--display: {error}");
        return properties;
    }
}
