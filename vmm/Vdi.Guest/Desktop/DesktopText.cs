using System.Text;
using Vdi.Vmm.Images;
using Vdi.Vmm.Memory;

namespace Vdi.Guest.Desktop;

/// <summary>
/// The desktop's terminal text as the guest keeps it, read straight from guest memory the host maps (the command line,
/// tests). A running desktop seen from the broker goes through <see cref="DesktopInspection"/> instead.
/// </summary>
public static class DesktopText
{
    /// <summary>The text, its length clamped to the terminal's capacity.</summary>
    public static string Read(GuestImage image, GuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(memory);
        var length = Math.Min(memory.Read<uint>(image.Symbol(DesktopGuest.TextLengthSymbol)), (uint)DesktopState.TextCapacity);
        var bytes = new byte[length];
        memory.Read(image.Symbol(DesktopGuest.TextSymbol), bytes);
        return Encoding.ASCII.GetString(bytes);
    }
}
