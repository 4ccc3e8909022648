using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Sessions;
using Vdi.Server.Storage;
using Vdi.Vmm.Devices.Display;

namespace Vdi.Server.Tests.Sessions;

/// <summary>Stands in for a running desktop's display: records what the broker asked for and acknowledges at once, as the guest would.</summary>
internal sealed class RecordingDisplayTarget : IDisplayTarget
{
    private readonly List<DisplayProperties> _requests = [];

    public IReadOnlyList<DisplayProperties> Requests
    {
        get
        {
            lock (_requests)
                return [.. _requests];
        }
    }

    /// <summary>When set, requests fail as a guest that never shows the mode would make them.</summary>
    public bool TimeOut { get; set; }

    public Task RequestAsync(DisplayProperties properties, CancellationToken cancellationToken)
    {
        if (TimeOut)
            return Task.FromException(new TimeoutException($"the guest did not show {properties.Width}x{properties.Height}"));
        lock (_requests)
            _requests.Add(properties);
        return Task.CompletedTask;
    }
}

internal sealed class RecordingSessionClient : ISessionClient
{
    public List<SessionEnded> Ended { get; } = [];

    /// <summary>What the broker did to this client, in order: "notice:reason", "close", "close+abort".</summary>
    public List<string> Calls { get; } = [];

    public Task SessionEndedAsync(SessionEnded ended)
    {
        lock (Ended)
        {
            Ended.Add(ended);
            Calls.Add($"notice:{ended.Reason}");
        }
        return Task.CompletedTask;
    }

    public Task CloseAsync(bool abort)
    {
        lock (Ended)
            Calls.Add(abort ? "close+abort" : "close");
        return Task.CompletedTask;
    }
}

/// <summary>A broker over a real SQLite database in a temp folder, with one running desktop.</summary>
internal sealed class BrokerTestBed : IAsyncDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"vdi-broker-{Guid.NewGuid():N}.db");
    private readonly ServiceProvider _services;

    public BrokerTestBed(TimeSpan? debounce = null)
    {
        _services = new ServiceCollection()
            .AddDbContext<VdiDbContext, SqliteVdiDbContext>(o => o.UseSqlite($"Data Source={_path}"))
            .BuildServiceProvider();
        using (var scope = _services.CreateScope())
            scope.ServiceProvider.GetRequiredService<VdiDbContext>().Database.Migrate();
        Broker = new SessionBroker(_services.GetRequiredService<IServiceScopeFactory>(), id => id == DesktopId ? Display : null, TimeProvider.System,
            new SessionBrokerOptions { Debounce = debounce ?? TimeSpan.FromMilliseconds(50) });
    }

    public Guid DesktopId { get; } = Guid.NewGuid();

    public RecordingDisplayTarget Display { get; } = new();

    public SessionBroker Broker { get; }

    public static ClientDisplay Client(int width, int height, double dpr = 1) => new(width, height, dpr, null, null, null, null);

    /// <summary>Creates a session record as POST /api/sessions does and returns its token.</summary>
    public async Task<(Guid SessionId, string Token)> CreateSessionAsync(string userId, bool shadow = false, TimeSpan? lifetime = null, string? clientName = null)
    {
        var token = Guid.NewGuid().ToString("N");
        using var scope = _services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var record = new SessionRecord
        {
            Id = Guid.NewGuid(),
            DesktopId = DesktopId,
            UserId = userId,
            ClientName = clientName,
            Shadow = shadow,
            ConnectTokenHash = SessionIssuer.HashToken(token),
            ConnectTokenExpiresAt = DateTimeOffset.UtcNow + (lifetime ?? TimeSpan.FromMinutes(1)),
            CreatedAt = DateTimeOffset.UtcNow,
        };
        db.Sessions.Add(record);
        await db.SaveChangesAsync();
        return (record.Id, token);
    }

    public async Task<SessionRecord> RecordAsync(Guid sessionId)
    {
        using var scope = _services.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<VdiDbContext>().Sessions.AsNoTracking().SingleAsync(s => s.Id == sessionId);
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_path);
    }
}
