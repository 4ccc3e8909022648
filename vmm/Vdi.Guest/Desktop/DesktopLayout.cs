namespace Vdi.Guest.Desktop;

/// <summary>
/// Where the desktop's parts sit, in units (<see cref="DesktopState.Unit"/> pixels each, one font dot). Everything is
/// a whole number of units, so doubling the unit doubles every element exactly.
/// </summary>
internal static class DesktopLayout
{
    /// <summary>The top bar spans the width, this tall; its text starts at (<see cref="BarTextX"/>, <see cref="BarTextY"/>).</summary>
    public const int BarHeight = 11;
    public const int BarTextX = 3;
    public const int BarTextY = 2;

    /// <summary>The terminal window: this far from the left, right and bottom edges, and from the top.</summary>
    public const int WindowMargin = 8;
    public const int WindowTop = 19;

    /// <summary>The window's title bar height, and the title's offset inside it.</summary>
    public const int TitleHeight = 10;
    public const int TitleTextX = 3;
    public const int TitleTextY = 1;

    /// <summary>The text grid's offset from the window's top-left corner.</summary>
    public const int TextX = 3;
    public const int TextY = 12;

    /// <summary>Clock cells: <c>HH:MM:SS</c>.</summary>
    public const int ClockCells = 8;

    /// <summary>Cells of the longest top-bar line: <c>"7680x4320  1200 dpi  "</c> and the clock.</summary>
    public const int BarCells = 21 + ClockCells;

    /// <summary>Units the top bar's text needs, margins on both sides included: the unit never exceeds width / this.</summary>
    public const int BarWidthUnits = (2 * BarTextX) + (BarCells * DesktopFont.CellColumns);
}
