using System.Globalization;

namespace Vdi.Protocol.Internal;

/// <summary>Formats messages with the invariant culture, so "1280.5" and "NaN" read the same everywhere.</summary>
internal static class Invariant
{
    public static string Format(FormattableString message) => message.ToString(CultureInfo.InvariantCulture);
}
