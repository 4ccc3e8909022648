namespace Vdi.Guest.Desktop;

/// <summary>The desktop's colours, as framebuffer dwords 0x00RRGGBB (B8G8R8X8 in memory). None is black.</summary>
internal static class DesktopPalette
{
    public const uint Background = 0x002D_5A7B;
    public const uint Bar = 0x001E_1E28;
    public const uint BarText = 0x00E8_E8E8;
    public const uint Title = 0x006A_8CAF;
    public const uint TitleText = 0x00FF_FFFF;
    public const uint Body = 0x0010_1418;
    public const uint Text = 0x009F_E870;
}
