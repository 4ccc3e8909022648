namespace Vdi.Protocol;

/// <summary>Server → client: the guest moved the cursor (not an echo of the client's own pointer).</summary>
/// <param name="X">Hot spot position in device pixels of the mode.</param>
/// <param name="Y">Hot spot position in device pixels of the mode.</param>
public sealed record CursorMove(int X, int Y);
