using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Storage;
using Vdi.Server.Tests.Hubs;

namespace Vdi.Server.Tests.Api;

/// <summary>Session records end: unconnected ones with their token, those of a previous process at start; and a user's live sessions are limited.</summary>
public sealed class SessionRecordTests : IDisposable
{
    private static readonly ClientDisplay s_display = new(800, 600, 1, null, null, null, null);
    private readonly List<BrokerFactory> _factories = [];

    private BrokerFactory Factory(string? dataDirectory = null, bool running = true, Dictionary<string, string?>? settings = null)
    {
        var factory = new BrokerFactory(dataDirectory, autoStart: running, runningDesktops: running, settings: settings);
        _factories.Add(factory);
        return factory;
    }

    [Fact]
    public async Task A_session_never_connected_ends_as_expired_with_its_token()
    {
        var factory = Factory(settings: new() { ["Vdi:Sessions:ConnectTokenLifetime"] = "00:00:01", ["Vdi:Sessions:ExpirySweepInterval"] = "00:00:00.2" });
        var api = await factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var (sessionId, _) = await LiveViewer.CreateAsync(api, desktop.Id, s_display, "never connects");

        var record = await SessionEndingTests.RecordAsync(api, sessionId, s => s.EndedAt is not null);
        Assert.Equal(SessionEndReasons.Expired, record.EndReason);
    }

    [Fact]
    public async Task Live_sessions_per_user_are_limited_with_a_429_naming_the_limit()
    {
        var factory = Factory(settings: new() { ["Vdi:Sessions:MaxLiveSessionsPerUser"] = "2" });
        var api = await factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        await LiveViewer.CreateAsync(api, desktop.Id, s_display, "one");
        await LiveViewer.CreateAsync(api, desktop.Id, s_display, "two");

        var response = await api.PostAsJsonAsync("/api/sessions", new CreateSessionRequest(desktop.Id, s_display, "three"));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("the limit is 2 per user", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("MaxLiveSessionsPerUser", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, problem.GetProperty("limit").GetInt32());
    }

    [Fact]
    public async Task A_server_start_ends_the_records_a_previous_process_left_live()
    {
        var first = Factory(running: false);
        var api = await first.SignedInAsync();
        var desktopId = (await api.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!.Single().Id;
        string userId;
        using (var scope = first.Services.CreateScope())
            userId = (await scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>().FindByNameAsync("admin"))!.Id;
        first.Dispose();
        // What a process killed mid-session leaves: a connected record and an unconnected one, both live.
        var ids = new[] { Guid.NewGuid(), Guid.NewGuid() };
        await using (var db = SqliteVdiDbContext.Open($"Data Source={Path.Combine(first.DataDirectory, "vdi.db")}"))
        {
            foreach (var (id, used) in ids.Zip([true, false]))
            {
                db.Sessions.Add(new SessionRecord
                {
                    Id = id, DesktopId = desktopId, UserId = userId, ConnectTokenHash = id.ToString("N"), ConnectTokenUsed = used,
                    ConnectTokenExpiresAt = DateTimeOffset.UtcNow.AddHours(1), CreatedAt = DateTimeOffset.UtcNow, Width = 800, Height = 600,
                });
            }
            await db.SaveChangesAsync();
        }

        var second = Factory(first.DataDirectory, running: false);
        var records = (await (await second.SignedInAsync()).GetFromJsonAsync<List<SessionSummary>>("/api/sessions"))!;

        Assert.All(ids, id => Assert.Equal(SessionEndReasons.ServerRestarted, records.Single(r => r.Id == id).EndReason));
    }

    public void Dispose()
    {
        foreach (var factory in _factories)
            factory.Dispose();
        foreach (var factory in _factories)
            factory.DeleteData();
    }
}
