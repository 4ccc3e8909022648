using System.Buffers.Binary;
using System.Text;
using Vdi.Vmm.Images;

namespace Vdi.Guest.Desktop;

/// <summary>What the dashboard shows from inside a running desktop: how long it has been up and its terminal's last line.</summary>
public sealed record DesktopView(TimeSpan Uptime, string LastLine);

/// <summary>
/// Reads a <see cref="DesktopView"/> out of a running desktop through a fault-safe reader by guest-virtual address (the
/// VMM's introspection: a fault is a failed read, never an exception), from the symbols the desktop exports. Everything
/// read is treated as hostile: lengths are clamped, bytes outside printable ASCII shown as '?'.
/// </summary>
public static class DesktopInspection
{
    /// <summary>The most of a line shown.</summary>
    public const int MaxLine = 200;

    /// <summary>
    /// The view, or null when a read failed. <paramref name="read"/> reads a length of bytes at a guest-virtual address,
    /// null when it could not (<c>IDesktopMachine.ReadGuestAsync</c>); <paramref name="now"/> is the host's wall clock.
    /// </summary>
    public static async Task<DesktopView?> ReadAsync(GuestImage image, Func<ulong, int, Task<byte[]?>> read, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(read);
        if (await read(image.Symbol(DesktopGuest.BootTimeSymbol), 8).ConfigureAwait(false) is not { Length: 8 } boot
            || await read(image.Symbol(DesktopGuest.TextLengthSymbol), 4).ConfigureAwait(false) is not { Length: 4 } length)
            return null;
        var bootMs = BinaryPrimitives.ReadInt64LittleEndian(boot);
        var uptime = bootMs <= 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Max(0, now.ToUnixTimeMilliseconds() - bootMs));
        var textLength = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(length), (uint)DesktopState.TextCapacity);
        var tail = Math.Min(textLength, 4 * MaxLine); // the last line lies in the text's last few hundred bytes
        if (tail == 0)
            return new DesktopView(uptime, "");
        if (await read(image.Symbol(DesktopGuest.TextSymbol) + (ulong)(textLength - tail), tail).ConfigureAwait(false) is not { } text || text.Length != tail)
            return null;
        return new DesktopView(uptime, LastLine(text));
    }

    /// <summary>The last line with anything on it (the one being typed, or the one before it).</summary>
    private static string LastLine(byte[] text)
    {
        var lines = Encoding.ASCII.GetString(text).Split('\n');
        var last = lines.LastOrDefault(l => l.Length > 0) ?? "";
        if (lines.Length == 1 && text.Length == 4 * MaxLine)
            last = last[^Math.Min(last.Length, MaxLine)..]; // a line longer than the tail: its end
        var shown = new StringBuilder(Math.Min(last.Length, MaxLine));
        foreach (var c in last.Length > MaxLine ? last[^MaxLine..] : last)
            shown.Append(c is >= ' ' and <= '~' ? c : '?');
        return shown.ToString();
    }
}
