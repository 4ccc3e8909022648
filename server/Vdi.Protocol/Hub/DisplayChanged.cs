namespace Vdi.Protocol;

/// <summary>Client → server: the browser's display changed (resize, zoom, moved to another monitor).</summary>
/// <param name="Display">The new display; validated with <see cref="ClientDisplay.Validate"/>.</param>
public sealed record DisplayChanged(ClientDisplay Display);
