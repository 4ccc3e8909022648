using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Storage;

namespace Vdi.Server.Tests.Api;

/// <summary>
/// <c>GET /api/sessions</c> and <c>GET /api/audit</c> page newest first, filter by text (and sessions by live), carry
/// the total in <see cref="Paging.TotalCountHeader"/>, and refuse bad parameters with a problem naming them. On
/// SQLite here, and on PostgreSQL in <see cref="ListPagingPostgresTests"/>.
/// </summary>
public class ListPagingTests : IAsyncLifetime, IDisposable
{
    private const int SessionCount = 220;
    private const int AuditCount = 230;
    private const string GracePassword = "Grace-Pa55word!";
    private static readonly string[] s_desktopNames = ["Alpha desk", "Beta desk"];
    private static readonly DateTimeOffset s_start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    private BrokerFactory _factory = null!;
    private readonly List<SessionRecord> _sessions = [];
    private readonly Dictionary<string, string> _userNames = [];
    private readonly Dictionary<Guid, string> _desktopNames = [];
    private HttpClient _admin = null!;

    /// <summary>
    /// 220 sessions, one a minute: every 4th is grace's (the rest the admin's), even ones on "Alpha desk", odd ones on
    /// "Beta desk", every 10th from "Phone-n" (the rest from "laptop"), every 11th still live. And 230 audit entries.
    /// </summary>
    public async Task InitializeAsync()
    {
        _factory = new BrokerFactory(autoStart: false, settings: await StorageSettingsAsync());
        _admin = await _factory.SignedInAsync();
        (await _admin.PostAsJsonAsync("/api/users", new { userName = "grace", password = GracePassword })).EnsureSuccessStatusCode();
        using var scope = _factory.Services.CreateScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        var adminId = (await users.FindByNameAsync("admin"))!.Id;
        var graceId = (await users.FindByNameAsync("grace"))!.Id;
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        DesktopRecord alpha = new() { Id = Guid.NewGuid(), Name = "Alpha desk" }, beta = new() { Id = Guid.NewGuid(), Name = "Beta desk" };
        db.Desktops.AddRange(alpha, beta);
        (_userNames[adminId], _userNames[graceId]) = ("admin", "grace");
        (_desktopNames[alpha.Id], _desktopNames[beta.Id]) = (alpha.Name, beta.Name);
        for (var i = 0; i < SessionCount; i++)
        {
            var live = i % 11 == 0;
            _sessions.Add(new SessionRecord
            {
                Id = Guid.NewGuid(), DesktopId = i % 2 == 0 ? alpha.Id : beta.Id, UserId = i % 4 == 0 ? graceId : adminId,
                ClientName = i % 10 == 0 ? $"Phone-{i}" : "laptop", Width = 800, Height = 600, DevicePixelRatio = 1, Dpi = 96,
                ConnectTokenHash = $"hash-{i}", ConnectTokenExpiresAt = s_start.AddDays(1), ConnectTokenUsed = true,
                CreatedAt = s_start.AddMinutes(i), EndedAt = live ? null : s_start.AddMinutes(i + 1), EndReason = live ? null : SessionEndReasons.Disconnected,
            });
        }
        db.Sessions.AddRange(_sessions);
        for (var i = 0; i < AuditCount; i++)
        {
            db.Audit.Add(new AuditRecord
            {
                At = s_start.AddMinutes(i), UserId = i % 3 == 0 ? graceId : adminId,
                Action = i % 2 == 0 ? "desktop.start" : "session.create", Detail = $"target-{i:000}",
            });
        }
        await db.SaveChangesAsync();
    }

    [Fact]
    public async Task Sessions_come_newest_first_a_page_at_a_time_with_the_total()
    {
        var newestFirst = _sessions.OrderByDescending(s => s.CreatedAt).Select(s => s.Id).ToList();
        List<Guid> seen = [];
        for (var page = 1; page <= 5; page++)
        {
            var (items, total) = await SessionsAsync($"page={page}&pageSize=50");
            Assert.Equal(SessionCount, total);
            Assert.Equal(page < 5 ? 50 : 20, items.Count);
            seen.AddRange(items.Select(s => s.Id));
        }
        Assert.Equal(newestFirst, seen);

        var (beyond, beyondTotal) = await SessionsAsync("page=6&pageSize=50");
        Assert.Empty(beyond);
        Assert.Equal(SessionCount, beyondTotal);
        var (first, _) = await SessionsAsync("");
        Assert.Equal(Paging.DefaultPageSize, first.Count);
        Assert.Equal(newestFirst.Take(Paging.DefaultPageSize), first.Select(s => s.Id));
        Assert.All(first, s => Assert.Contains(s.DesktopName, s_desktopNames));
    }

    [Fact]
    public async Task Live_only_lists_sessions_not_ended_and_false_lists_the_ended_ones()
    {
        var (live, liveTotal) = await SessionsAsync("live=true&pageSize=200");
        Assert.Equal(_sessions.Count(s => s.EndedAt is null), liveTotal);
        Assert.Equal(20, liveTotal);
        Assert.All(live, s => Assert.Null(s.EndedAt));

        var (ended, endedTotal) = await SessionsAsync("live=false&pageSize=10");
        Assert.Equal(SessionCount - 20, endedTotal);
        Assert.All(ended, s => Assert.NotNull(s.EndedAt));
    }

    [Theory]
    [InlineData("GRACE", 55)] // user name, any case
    [InlineData("alpha", 110)] // desktop name
    [InlineData("phone-1", 11)] // client name: Phone-10 and Phone-100 to Phone-190
    [InlineData("laptop", 198)]
    [InlineData("%", 0)] // wildcards are plain characters
    [InlineData("_", 0)]
    public async Task The_text_filter_matches_user_desktop_or_client_name(string q, int expected)
    {
        Assert.Equal(expected, _sessions.Count(s => Matches(s, q))); // the seed is what the case says

        var (items, total) = await SessionsAsync($"q={Uri.EscapeDataString(q)}&pageSize=200");

        Assert.Equal(expected, total);
        Assert.Equal(_sessions.Where(s => Matches(s, q)).OrderByDescending(s => s.CreatedAt).Select(s => s.Id), items.Select(s => s.Id));
    }

    [Fact]
    public async Task Filter_and_live_only_combine_and_users_see_only_their_own()
    {
        var (items, total) = await SessionsAsync("q=grace&live=true");
        Assert.Equal(_sessions.Count(s => s.EndedAt is null && Matches(s, "grace")), total);
        Assert.All(items, s => Assert.Equal("grace", s.UserName));
        Assert.NotEmpty(items);

        var grace = await _factory.SignedInAsync("grace", GracePassword);
        var response = await grace.GetAsync("/api/sessions?pageSize=200&q=desk");
        response.EnsureSuccessStatusCode();
        var own = (await response.Content.ReadFromJsonAsync<List<SessionSummary>>())!;
        Assert.Equal("55", response.Headers.GetValues(Paging.TotalCountHeader).Single());
        Assert.All(own, s => Assert.Equal("grace", s.UserName));
    }

    [Theory]
    [InlineData("/api/sessions?page=0", "page")]
    [InlineData("/api/sessions?page=abc", "page")]
    [InlineData("/api/sessions?page=1&page=2", "page")]
    [InlineData("/api/sessions?pageSize=0", "pageSize")]
    [InlineData("/api/sessions?pageSize=201", "pageSize")]
    [InlineData("/api/sessions?pageSize=-5", "pageSize")]
    [InlineData("/api/sessions?live=maybe", "live")]
    [InlineData("/api/audit?page=-1", "page")]
    [InlineData("/api/audit?pageSize=1000", "pageSize")]
    [InlineData("/api/audit?pageSize=99999999999", "pageSize")]
    public async Task A_bad_parameter_is_a_400_problem_naming_it(string path, string field)
    {
        var response = await _admin.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"the problem names {field}: {problem}");
        Assert.Contains(field, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_filter_longer_than_the_limit_is_refused()
    {
        var response = await _admin.GetAsync($"/api/sessions?q={new string('x', Paging.MaxFilterLength + 1)}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"q\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_audit_log_pages_newest_first_and_filters_by_action_user_or_target()
    {
        var (page, total) = await AuditAsync("page=2&pageSize=100");
        Assert.True(total >= AuditCount, $"{total} entries"); // plus the broker's own (the user it created)
        Assert.Equal(100, page.Count);
        Assert.Equal(page.OrderByDescending(a => a.Id).Select(a => a.Id), page.Select(a => a.Id));

        var (started, startedTotal) = await AuditAsync("q=DESKTOP.START&pageSize=200");
        Assert.Equal(AuditCount / 2, startedTotal);
        Assert.All(started, a => Assert.Equal("desktop.start", a.Action));

        var (byGrace, graceTotal) = await AuditAsync("q=grace&pageSize=200");
        Assert.Equal(Enumerable.Range(0, AuditCount).Count(i => i % 3 == 0) + 1, graceTotal); // and "user.create grace"
        Assert.All(byGrace, a => Assert.True(a.UserName == "grace" || a.Detail.Contains("grace", StringComparison.Ordinal)));

        var (target, targetTotal) = await AuditAsync("q=target-12");
        Assert.Equal(10, targetTotal); // target-120 to target-129
        Assert.Equal(["target-129", "target-128"], target.Take(2).Select(a => a.Detail));
    }

    /// <summary>The filter's meaning, on the seed: the text in the user's, the desktop's or the client's name, any case.</summary>
    private bool Matches(SessionRecord s, string q) =>
        new[] { _userNames[s.UserId], _desktopNames[s.DesktopId], s.ClientName ?? "" }.Any(n => n.Contains(q, StringComparison.OrdinalIgnoreCase));

    private async Task<(List<SessionSummary> Items, int Total)> SessionsAsync(string query)
    {
        var response = await _admin.GetAsync($"/api/sessions?{query}");
        response.EnsureSuccessStatusCode();
        var total = int.Parse(response.Headers.GetValues(Paging.TotalCountHeader).Single(), System.Globalization.CultureInfo.InvariantCulture);
        return ((await response.Content.ReadFromJsonAsync<List<SessionSummary>>())!, total);
    }

    private async Task<(List<AuditEntry> Items, int Total)> AuditAsync(string query)
    {
        var response = await _admin.GetAsync($"/api/audit?{query}");
        response.EnsureSuccessStatusCode();
        var total = int.Parse(response.Headers.GetValues(Paging.TotalCountHeader).Single(), System.Globalization.CultureInfo.InvariantCulture);
        return ((await response.Content.ReadFromJsonAsync<List<AuditEntry>>())!, total);
    }

    /// <summary>The broker's storage settings: its default (SQLite in the data folder) here.</summary>
    protected virtual Task<Dictionary<string, string?>> StorageSettingsAsync() => Task.FromResult(new Dictionary<string, string?>());

    public virtual Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        _admin?.Dispose();
        _factory?.Dispose();
        _factory?.DeleteData();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The same lists on PostgreSQL: its LIKE minds case, and its times are timestamptz.</summary>
[Trait("Requires", Vdi.Tests.Shared.PostgresServer.Trait)]
public sealed class ListPagingPostgresTests : ListPagingTests
{
    private Vdi.Tests.Shared.TestDatabase? _database;

    protected override async Task<Dictionary<string, string?>> StorageSettingsAsync()
    {
        _database = await Vdi.Tests.Shared.PostgresServer.CreateDatabaseAsync();
        return new() { ["Vdi:Storage:Provider"] = "Postgres", ["Vdi:Storage:ConnectionString"] = _database.ConnectionString };
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Dispose(); // the broker lets go of the database before it is dropped
        if (_database is not null)
            await _database.DisposeAsync();
    }
}
