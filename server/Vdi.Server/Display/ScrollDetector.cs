using System.IO.Hashing;
using System.Runtime.InteropServices;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>A band of rows the client can copy from its own picture: rows [SourceY, SourceY + Height) go to DestinationY, same columns.</summary>
public readonly record struct ScrollCopy(int X, int Width, int SourceY, int DestinationY, int Height)
{
    public GpuRect Destination => new(X, DestinationY, Width, Height);

    public GpuRect Source => new(X, SourceY, Width, Height);
}

/// <summary>
/// Finds a vertical scroll inside a damaged rectangle: a band of its new rows that equals the rows
/// the client shows at another height of the same rectangle (a terminal moving up a line, a page
/// scrolled by the wheel). Rows are hashed; windows of <see cref="Window"/> consecutive rows (single
/// rows repeat too often in text: stems, rules, blank lines) vote for the shift; the band is then
/// verified pixel for pixel, so a copy is never wrong. Buffers are reused between calls. Not thread-safe.
/// </summary>
public sealed class ScrollDetector
{
    /// <summary>Rectangles narrower or lower than this are not worth a copy.</summary>
    public const int MinWidth = 64, MinHeight = 32;

    /// <summary>The shortest band worth a copy, in rows.</summary>
    public const int MinRows = 16;

    /// <summary>Rows hashed together to say where a band came from.</summary>
    public const int Window = 8;

    private const int Ambiguous = -1;

    private readonly Dictionary<ulong, int> _shownRows = [];
    private ulong[] _shown = [];
    private ulong[] _next = [];
    private ulong[] _shownWindows = [];
    private ulong[] _nextWindows = [];
    private int[] _votes = [];

    /// <summary>
    /// The largest band of <paramref name="rect"/> that <paramref name="next"/> shows shifted vertically
    /// from <paramref name="shown"/>, or null when there is none worth copying.
    /// </summary>
    public ScrollCopy? Detect(PixelBuffer shown, PixelBuffer next, GpuRect rect)
    {
        ArgumentNullException.ThrowIfNull(shown);
        ArgumentNullException.ThrowIfNull(next);
        var h = rect.Height;
        if (rect.Width < MinWidth || h < MinHeight)
            return null;
        if (_shown.Length < h)
        {
            _shown = new ulong[h];
            _next = new ulong[h];
            _shownWindows = new ulong[h];
            _nextWindows = new ulong[h];
            _votes = new int[2 * h];
        }
        for (var i = 0; i < h; i++)
        {
            _shown[i] = XxHash3.HashToUInt64(shown.Row(rect.Y + i, rect.X, rect.Width));
            _next[i] = XxHash3.HashToUInt64(next.Row(rect.Y + i, rect.X, rect.Width));
        }
        var windows = h - Window + 1;
        _shownRows.Clear();
        for (var i = 0; i < windows; i++)
        {
            _shownWindows[i] = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(_shown.AsSpan(i, Window)));
            _nextWindows[i] = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(_next.AsSpan(i, Window)));
            // Windows that occur more than once (blank space) cannot say where rows came from.
            _shownRows[_shownWindows[i]] = _shownRows.ContainsKey(_shownWindows[i]) ? Ambiguous : i;
        }

        // Each new window found once among the shown windows votes for its shift.
        Array.Clear(_votes, 0, 2 * h);
        var best = 0;
        for (var i = 0; i < windows; i++)
        {
            if (_nextWindows[i] == _shownWindows[i] || !_shownRows.TryGetValue(_nextWindows[i], out var from) || from == Ambiguous)
                continue;
            var slot = from - i + h;
            if (++_votes[slot] > _votes[best])
                best = slot;
        }
        if (_votes[best] == 0)
            return null;
        var dy = best - h; // new row i shows shown row i + dy

        // The longest run of rows that match at that shift, without rows that did not change at all.
        int runStart = 0, runLength = 0;
        var start = -1;
        for (var i = 0; i <= h; i++)
        {
            var matches = i < h && i + dy >= 0 && i + dy < h && _next[i] == _shown[i + dy];
            if (matches && start < 0)
                start = i;
            if (!matches && start >= 0)
            {
                if (i - start > runLength)
                    (runStart, runLength) = (start, i - start);
                start = -1;
            }
        }
        while (runLength > 0 && _next[runStart] == _shown[runStart])
            (runStart, runLength) = (runStart + 1, runLength - 1);
        while (runLength > 0 && _next[runStart + runLength - 1] == _shown[runStart + runLength - 1])
            runLength--;
        if (runLength < MinRows)
            return null;

        var copy = new ScrollCopy(rect.X, rect.Width, rect.Y + runStart + dy, rect.Y + runStart, runLength);
        return next.RowsEqual(copy.Destination, shown, copy.SourceY) ? copy : null; // hashes agreed; the pixels must too
    }
}
