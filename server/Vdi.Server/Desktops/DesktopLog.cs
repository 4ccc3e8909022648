namespace Vdi.Server.Desktops;

internal static partial class DesktopLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Desktop {Name} started on {Engine}")]
    public static partial void Started(ILogger logger, string name, string engine);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Desktop {Name} could not start: {Reason}")]
    public static partial void StartFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Desktop {Name} crashed: {Report}")]
    public static partial void Crashed(ILogger logger, string name, string report);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Desktop {Name} host: {Line}")]
    public static partial void Host(ILogger logger, string name, string line);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Desktop {Name} reattached to its host process {Pid}, left running by the previous broker")]
    public static partial void Reattached(ILogger logger, string name, int pid);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "Desktop {Name}: host process {Pid} ended ({Why})")]
    public static partial void HostEnded(ILogger logger, string name, int pid, string why);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Information, Message = "Desktop {Name}: host record of process {Pid} removed ({Why})")]
    public static partial void RecordRemoved(ILogger logger, string name, int pid, string why);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Warning, Message = "Desktop {Name} crashed: automatic restart {Attempt} of {Limit} in {Delay}")]
    public static partial void AutomaticRestart(ILogger logger, string name, int attempt, int limit, TimeSpan delay);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Error, Message = "Desktop {Name} crashed again: automatic restarts gave up ({Limit} within {Window}); it stays Crashed")]
    public static partial void AutomaticRestartsGaveUp(ILogger logger, string name, int limit, TimeSpan window);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "Desktop {Name}: the broker let go of its host process {Pid}; it waits {Seconds} s for a broker to reattach")]
    public static partial void Detached(ILogger logger, string name, int pid, int seconds);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Warning, Message = "Desktop {Name} could not reattach to its host process {Pid}: {Reason}")]
    public static partial void ReattachFailed(ILogger logger, string name, int pid, string reason);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Information, Message = "Desktop {Name}: live migration started (downtime target {Target})")]
    public static partial void MigrationStarted(ILogger logger, string name, TimeSpan target);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Information, Message = "Desktop {Name} migrated: downtime {DowntimeMs:F1} ms, total {TotalMs:F0} ms, {Rounds} round(s), {Bytes} bytes")]
    public static partial void Migrated(ILogger logger, string name, double downtimeMs, double totalMs, int rounds, long bytes);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Warning, Message = "Desktop {Name}: live migration failed, it runs on where it was: {Reason}")]
    public static partial void MigrationFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Warning, Message = "Desktop {Name} fault tolerance: {Kind}: {Detail}")]
    public static partial void FaultTolerance(ILogger logger, string name, string kind, string detail);
}
