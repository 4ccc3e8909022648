namespace Vdi.Protocol;

/// <summary>Server → client: the guest set a new cursor image.</summary>
/// <param name="HotX">Hot spot X within the image.</param>
/// <param name="HotY">Hot spot Y within the image.</param>
/// <param name="Width">Image width in device pixels.</param>
/// <param name="Height">Image height in device pixels.</param>
/// <param name="Png">The image as PNG; null hides the cursor.</param>
public sealed record CursorUpdate(int HotX, int HotY, int Width, int Height, byte[]? Png);
