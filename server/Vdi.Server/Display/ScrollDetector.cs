using System.IO.Hashing;
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
/// scrolled by the wheel). Rows are matched by hash, the shift chosen by vote, and the band verified
/// pixel for pixel, so a copy is never wrong. Buffers are reused between calls. Not thread-safe.
/// </summary>
public sealed class ScrollDetector
{
    /// <summary>Rectangles narrower or lower than this are not worth a copy.</summary>
    public const int MinWidth = 64, MinHeight = 32;

    /// <summary>The shortest band worth a copy, in rows.</summary>
    public const int MinRows = 16;

    private const int Ambiguous = -1;

    private readonly Dictionary<ulong, int> _shownRows = [];
    private ulong[] _shown = [];
    private ulong[] _next = [];
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
            _votes = new int[2 * h];
        }
        _shownRows.Clear();
        for (var i = 0; i < h; i++)
        {
            _shown[i] = XxHash3.HashToUInt64(shown.Row(rect.Y + i, rect.X, rect.Width));
            _next[i] = XxHash3.HashToUInt64(next.Row(rect.Y + i, rect.X, rect.Width));
            // Rows that occur more than once (blank lines) cannot say where a row came from.
            _shownRows[_shown[i]] = _shownRows.ContainsKey(_shown[i]) ? Ambiguous : i;
        }

        // Each new row found once among the shown rows votes for its shift.
        Array.Clear(_votes, 0, 2 * h);
        var best = 0;
        for (var i = 0; i < h; i++)
        {
            if (_next[i] == _shown[i] || !_shownRows.TryGetValue(_next[i], out var from) || from == Ambiguous)
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
