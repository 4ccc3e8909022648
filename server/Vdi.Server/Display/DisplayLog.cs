namespace Vdi.Server.Display;

internal static partial class DisplayLog
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Frame pump stopped: sending frame {FrameId} failed")]
    public static partial void SendFailed(ILogger logger, long frameId, Exception exception);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Error, Message = "Frame pump stopped: encoding frame failed")]
    public static partial void EncodeFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Debug, Message = "Sending frames of {Width}x{Height}")]
    public static partial void ModeChanged(ILogger logger, int width, int height);
}
