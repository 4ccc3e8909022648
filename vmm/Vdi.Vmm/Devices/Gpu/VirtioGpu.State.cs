using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Devices.Gpu;

/// <summary>
/// The GPU's state: the display the host asked for and what the guest has read of it, its EDID, every resource with its
/// pixels and backing, the scanout and the cursor. Restored before its transport; a restored scanout and cursor are
/// announced to the host as they would be when the guest set them. Version 2: a resource whose pixels a migration's
/// pre-copy handed out in full (<see cref="StartPixelTracking"/>) is listed in <c>res_precopied</c> without them, and
/// restored from the pixels the destination received (version 1 carried every resource's pixels).
/// </summary>
public sealed partial class VirtioGpu
{
    public string SectionName => "gpu";

    public ushort SectionVersion => 2;

    public void SaveState(SectionWriter section)
    {
        lock (Gate)
        {
            var resources = _resources.Values.OrderBy(r => r.Id).ToList();
            var precopied = resources.Where(PixelsHandedOut).ToHashSet();
            var pixels = new byte[resources.Where(r => !precopied.Contains(r)).Sum(r => r.ByteCount)];
            var at = 0L;
            foreach (var r in resources.Where(r => !precopied.Contains(r)))
            {
                r.Pixels.CopyTo(pixels.AsSpan((int)at));
                at += r.ByteCount;
            }
            section.U64("width", (ulong)_display.Width).U64("height", (ulong)_display.Height).F64("dpi", _display.Dpi).U64("refresh", (ulong)_display.RefreshHz)
                .U64("width_mm", (ulong)(_display.WidthMm ?? 0)).U64("height_mm", (ulong)(_display.HeightMm ?? 0))
                .I64("display_generation", _displayGeneration).I64("display_seen", _displaySeen).U64("events_read", _eventsRead).Bytes("edid", _edid)
                .I64("errors", Interlocked.Read(ref _errorResponses)).Text("last_error", LastError ?? "")
                .U64s("res_ids", [.. resources.Select(r => (ulong)r.Id)]).U64s("res_formats", [.. resources.Select(r => (ulong)r.Format)])
                .U64s("res_widths", [.. resources.Select(r => (ulong)r.Width)]).U64s("res_heights", [.. resources.Select(r => (ulong)r.Height)])
                .Bytes("res_pixels", pixels).U64s("res_precopied", [.. resources.Where(precopied.Contains).Select(r => (ulong)r.Id)])
                .U64s("res_backing_counts", [.. resources.Select(r => r.Backing is { } b ? (ulong)b.Length + 1 : 0)]) // 0: detached
                .U64s("res_backing", [.. resources.SelectMany(r => (r.Backing ?? []).SelectMany(e => new[] { e.Address, (ulong)e.Length }))])
                .U64("scanout", _scanout?.Id ?? 0).U64s("scanout_rect", [(ulong)_scanoutRect.X, (ulong)_scanoutRect.Y, (ulong)_scanoutRect.Width, (ulong)_scanoutRect.Height])
                .U64s("cursor", [(ulong)_cursor.Width, (ulong)_cursor.Height, (ulong)_cursor.HotX, (ulong)_cursor.HotY, (ulong)_cursor.Format, (ulong)(uint)_cursorPos.X, (ulong)(uint)_cursorPos.Y])
                .Bytes("cursor_pixels", _cursor.Pixels ?? []);
        }
    }

    public void RestoreState(SavedSection section)
    {
        var s = section;
        var display = new DisplayProperties((int)s.U64("width", 1, int.MaxValue), (int)s.U64("height", 1, int.MaxValue), s.F64("dpi"), (int)s.U64("refresh", 1, 1000))
        {
            WidthMm = s.U64("width_mm", 0, 100_000) is var wmm and > 0 ? (int)wmm : null,
            HeightMm = s.U64("height_mm", 0, 100_000) is var hmm and > 0 ? (int)hmm : null,
        };
        if (DisplayProperties.Validate(display, _options.MaxWidth, _options.MaxHeight) is { } bad)
            throw new StateFormatException($"section '{s.Name}': {bad}");
        var (generation, seen, eventsRead) = (s.I64("display_generation"), s.I64("display_seen"), (uint)s.U64("events_read", 0, uint.MaxValue));
        var edid = s.Bytes("edid");
        var (errors, lastError) = (s.I64("errors"), s.Text("last_error"));
        var (ids, formats, widths, heights) = (s.U64s("res_ids"), s.U64s("res_formats"), s.U64s("res_widths"), s.U64s("res_heights"));
        var pixels = s.Bytes("res_pixels");
        var precopiedIds = s.Version >= 2 ? s.U64s("res_precopied") : [];
        var (counts, backing) = (s.U64s("res_backing_counts"), s.U64s("res_backing"));
        var (scanoutId, rect) = (s.U64("scanout", 0, uint.MaxValue), s.U64s("scanout_rect"));
        var (cursor, cursorPixels) = (s.U64s("cursor"), s.Bytes("cursor_pixels"));
        s.EnsureAllRead();

        var n = ids.Length;
        if (formats.Length != n || widths.Length != n || heights.Length != n || counts.Length != n || rect.Length != 4 || cursor.Length != 7
            || edid.Length is 0 or > 32 * 128 || edid.Length % 128 != 0 || seen > generation || generation < 0)
            throw new StateFormatException($"section '{s.Name}': its lists or display fields do not agree");
        var total = 0L;
        var inline = 0L;
        var entries = 0;
        var precopied = new HashSet<ulong>(precopiedIds);
        if (precopied.Count != precopiedIds.Length || !precopied.IsSubsetOf(ids))
            throw new StateFormatException($"section '{s.Name}': pre-copied resources that it does not hold, or twice");
        for (var i = 0; i < n; i++)
        {
            if (ids[i] is 0 or > uint.MaxValue || (i > 0 && ids[i] <= ids[i - 1]) || !Enum.IsDefined((GpuFormat)formats[i])
                || widths[i] is 0 || heights[i] is 0 || widths[i] > (ulong)_options.MaxWidth || heights[i] > (ulong)_options.MaxHeight
                || counts[i] > (ulong)_options.MaxBackingEntries + 1)
                throw new StateFormatException($"section '{s.Name}': resource {ids[i]} is not one the guest could have made");
            var bytes = (long)(widths[i] * heights[i] * 4);
            total += bytes;
            if (!precopied.Contains(ids[i]))
                inline += bytes;
            else if (!HasStaged((uint)ids[i], (int)widths[i], (int)heights[i]))
                throw new StateFormatException($"section '{s.Name}': resource {ids[i]}'s pixels were to come before the state, and did not come whole");
            entries += (int)Math.Max(1, counts[i]) - 1;
        }
        if (inline != pixels.Length || total > _options.ResourceMemoryLimit || backing.Length != entries * 2)
            throw new StateFormatException($"section '{s.Name}': {pixels.Length} bytes of pixels or {backing.Length / 2} backing entries for its resources");
        for (var e = 0; e < backing.Length; e += 2)
        {
            if (backing[e + 1] is 0 or > uint.MaxValue || !_host!.Dma.IsMapped(backing[e], backing[e + 1]))
                throw new StateFormatException($"section '{s.Name}': a backing entry [0x{backing[e]:X}, +0x{backing[e + 1]:X}) is not guest RAM");
        }
        var scanoutIndex = Array.IndexOf(ids, scanoutId);
        var scanoutRect = new GpuRect((int)Math.Min(rect[0], int.MaxValue), (int)Math.Min(rect[1], int.MaxValue), (int)Math.Min(rect[2], int.MaxValue), (int)Math.Min(rect[3], int.MaxValue));
        if (scanoutId != 0 && (scanoutIndex < 0 || !new GpuRect(0, 0, (int)widths[scanoutIndex], (int)heights[scanoutIndex]).Contains(scanoutRect) || scanoutRect.IsEmpty))
            throw new StateFormatException($"section '{s.Name}': the scanout shows {scanoutRect} of resource {scanoutId}, which it could not");
        var cursorImage = CursorFrom(s.Name, cursor, cursorPixels);

        lock (Gate)
        {
            foreach (var old in _resources.Values)
                old.Image.Release();
            _resources.Clear();
            var offset = 0L;
            var entry = 0;
            for (var i = 0; i < n; i++)
            {
                var bytes = (int)(widths[i] * heights[i] * 4);
                var image = precopied.Contains(ids[i])
                    ? StagedImage((uint)ids[i], (int)widths[i], (int)heights[i])!
                    : _resourceMemory.Allocate((int)widths[i], (int)heights[i], bytes);
                if (!precopied.Contains(ids[i]))
                {
                    pixels.AsSpan((int)offset, bytes).CopyTo(image.Pixels);
                    offset += bytes;
                }
                var resource = new GpuResource((uint)ids[i], (GpuFormat)formats[i], (int)widths[i], (int)heights[i], image);
                if (counts[i] > 0)
                {
                    resource.Backing = [.. Enumerable.Range(0, (int)counts[i] - 1).Select(k => (backing[2 * (entry + k)], (uint)backing[(2 * (entry + k)) + 1]))];
                    entry += (int)counts[i] - 1;
                }
                _resources[resource.Id] = resource;
            }
            _resourceBytes = total;
            ClearStage(_resources.Values.Select(r => r.Image));
            (_display, _displayGeneration, _displaySeen, _eventsRead, _edid) = (display, generation, seen, eventsRead, edid);
            Interlocked.Exchange(ref _errorResponses, errors);
            LastError = lastError.Length == 0 ? null : lastError;
            (_cursor, _cursorPos) = (cursorImage, ((int)(uint)cursor[5], (int)(uint)cursor[6]));
            _scanout = scanoutId == 0 ? null : _resources[(uint)scanoutId];
            _scanoutRect = scanoutId == 0 ? default : scanoutRect;
            ScanoutChanged?.Invoke(_scanout is { } shown ? new ScanoutChange(true, scanoutRect.Width, scanoutRect.Height, shown.Id, _displaySeen) : new ScanoutChange(false, 0, 0, 0));
            CursorChanged?.Invoke(_cursor);
            CursorMoved?.Invoke(_cursorPos.X, _cursorPos.Y);
        }
    }

    private bool HasStaged(uint id, int width, int height)
    {
        lock (Gate)
            return StagedImage(id, width, height) is not null;
    }

    private static CursorImage CursorFrom(string section, ulong[] c, byte[] pixels)
    {
        if (c[0] == 0 && c[1] == 0 && pixels.Length == 0)
            return new CursorImage(0, 0, 0, 0, null, GpuFormat.B8G8R8A8);
        if (c[0] is 0 or > MaxCursorSize || c[1] is 0 or > MaxCursorSize || c[2] >= c[0] || c[3] >= c[1] || !Enum.IsDefined((GpuFormat)c[4])
            || pixels.Length != (int)(c[0] * c[1] * 4) || c[5] > uint.MaxValue || c[6] > uint.MaxValue)
            throw new StateFormatException($"section '{section}': a cursor the guest could not have defined");
        return new CursorImage((int)c[0], (int)c[1], (int)c[2], (int)c[3], pixels, (GpuFormat)c[4]);
    }
}
