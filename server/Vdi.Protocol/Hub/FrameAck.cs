namespace Vdi.Protocol;

/// <summary>
/// Client → server: the client painted every frame up to and including <paramref name="FrameId"/>.
/// The server sends the next frame only after the ack, coalescing damage meanwhile.
/// </summary>
/// <param name="FrameId">The <see cref="FrameUpdate.FrameId"/> painted.</param>
public sealed record FrameAck(long FrameId);
