namespace Vdi.Guest.Desktop;

/// <summary>
/// Fixed guest-physical addresses the desktop guest uses above its image (all identity mapped, all below 2 GiB so
/// they fit sign-extended 32-bit immediates). Each virtqueue gets a 4 KiB page: descriptor table at +0, available
/// ring at +<see cref="AvailOffset"/>, used ring at +<see cref="UsedOffset"/>, and the driver's own bookkeeping
/// (last used index seen, u16) at +<see cref="LastUsedOffset"/>.
/// </summary>
internal static class DesktopMemoryMap
{
    public const int QueueSize = 64;
    public const int QueuePage = 0x1000;
    public const int AvailOffset = 0x400;
    public const int UsedOffset = 0x800;
    public const int LastUsedOffset = 0xC00;

    public const uint GpuControlQueue = 0x20_0000;
    public const uint GpuCursorQueue = 0x20_1000;
    public const uint KeyboardEventQueue = 0x20_2000;
    public const uint TabletEventQueue = 0x20_3000;

    /// <summary>GPU control request (up to 0x1000 bytes) and its response (up to 0x1000: the EDID response is 1056).</summary>
    public const uint GpuRequest = 0x21_0000;
    public const uint GpuResponse = 0x21_1000;
    public const uint CursorRequest = 0x21_2000;

    /// <summary>64 eight-byte event buffers per input device.</summary>
    public const uint KeyboardEvents = 0x21_3000;
    public const uint TabletEvents = 0x21_3200;

    /// <summary>The 64×64 cursor image, B8G8R8A8.</summary>
    public const uint CursorImage = 0x21_4000;
    public const int CursorSize = 64;

    /// <summary>
    /// The framebuffer, exactly width×height×4 bytes (B8G8R8X8). A 7680×4320 mode needs 127 MiB here, so the
    /// machine needs at least 64 + 4·w·h/2^20 MiB of RAM (191 MiB for 8K; the default 256 MiB covers it).
    /// </summary>
    public const uint Framebuffer = 0x0400_0000;

    /// <summary>RAM the desktop needs for a mode of <paramref name="width"/>×<paramref name="height"/>.</summary>
    public static ulong RequiredMemory(int width, int height) => Framebuffer + ((ulong)width * (ulong)height * 4);
}
