using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Sessions;
using Vdi.Server.Storage;

namespace Vdi.Server.Api;

/// <summary>
/// Sessions: a client asks for one with its display properties and gets a short-lived, single-use
/// connect token. Only a hash of the token is stored. A user has at most
/// <see cref="SessionBrokerOptions.MaxLiveSessionsPerUser"/> live sessions; beyond, the answer is 429 naming the limit.
/// The list is paged and filtered in the database (<see cref="ListQuery"/>).
/// </summary>
public static class SessionEndpoints
{
    public static void MapSessionEndpoints(this IEndpointRouteBuilder app)
    {
        var sessions = app.MapGroup("/api/sessions").WithTags("sessions").RequireAuthorization();
        sessions.MapPost("/", async Task<IResult> (CreateSessionRequest request, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool, AuditLog audit, TimeProvider time, Microsoft.Extensions.Options.IOptions<SessionBrokerOptions> options) =>
        {
            var caller = Caller.From(user);
            var desktop = await db.Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == request.DesktopId);
            if (desktop is null || !caller.CanUse(desktop))
                return Problems.NotFound($"desktop '{request.DesktopId}' was not found (or is not yours)");
            var errors = CreateSessionRequest.Validate(request, desktop.MaxWidth, desktop.MaxHeight);
            if (errors.Count == 0)
                errors = DisplayRules.Validate(request.Display, desktop.MaxWidth, desktop.MaxHeight);
            if (errors.Count > 0)
                return Problems.Validation(errors);
            if (pool.Get(desktop.Id) is not { State: DesktopState.Running })
            {
                var host = pool.Get(desktop.Id);
                return Problems.Conflict($"desktop '{desktop.Name}' is {(host?.State ?? DesktopState.Stopped).ToString().ToLowerInvariant()}{(host?.StateReason is { } why ? $": {why}" : "")}");
            }

            var limit = options.Value.MaxLiveSessionsPerUser;
            var live = await SessionRecords.CountLiveAsync(db, caller.UserId, time.GetUtcNow());
            if (live >= limit)
                return Problems.TooManySessions(live, limit);

            var display = request.Display!;
            var issued = SessionIssuer.Issue(db, time, options.Value.ConnectTokenLifetime, desktop.Id, caller.UserId, display, request.ClientName, shadow: false);
            audit.Add(db, caller.UserId, "session.create", $"{issued.SessionId} on {desktop.Name} at {display.Width}x{display.Height}");
            await db.SaveChangesAsync();
            return TypedResults.Created($"/api/sessions/{issued.SessionId}", issued);
        });
        sessions.MapGet("/", async Task<IResult> (HttpRequest request, ClaimsPrincipal user, VdiDbContext db) =>
        {
            List<ValidationError> errors = [];
            var list = ListQuery.Parse(request.Query, errors);
            var live = ListQuery.Flag(request.Query, "live", errors);
            if (errors.Count > 0)
                return Problems.Validation(errors);
            var caller = Caller.From(user);
            var (records, total) = await list.PageAsync(Filter(db, caller, list, live).OrderByDescending(s => s.CreatedAt).ThenBy(s => s.Id));
            // Names for this page only: one look-up each for its users and its desktops.
            var userIds = records.Select(s => s.UserId).Distinct().ToList();
            var names = await db.Users.AsNoTracking().Where(u => userIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.UserName ?? u.Id);
            var desktopIds = records.Select(s => s.DesktopId).Distinct().ToList();
            var desktops = await db.Desktops.AsNoTracking().Where(d => desktopIds.Contains(d.Id)).ToDictionaryAsync(d => d.Id, d => d.Name);
            return ListQuery.Ok(request.HttpContext.Response, records.Select(s => new SessionSummary(
                s.Id, s.DesktopId, names.GetValueOrDefault(s.UserId, s.UserId), s.ClientName,
                new ClientDisplay(s.Width, s.Height, s.DevicePixelRatio, s.Dpi, s.WidthMm, s.HeightMm, s.RefreshHz),
                s.CreatedAt, s.EndedAt, s.EndReason, s.Shadow, desktops.GetValueOrDefault(s.DesktopId))).ToList(), total);
        }).WithDescription("Your sessions (administrators: all), newest first, a page at a time: page, pageSize (1-200, default 50), " +
            "q (user, desktop or client name contains it, any case), live (true: not ended; false: ended). The X-Total-Count header carries how many match.");
    }

    /// <summary>
    /// The sessions the caller may see (administrators all, users their own), live or ended ones only when
    /// <paramref name="live"/> says so, and those whose user, desktop or client name contains the filter (any case).
    /// </summary>
    private static IQueryable<SessionRecord> Filter(VdiDbContext db, Caller caller, ListQuery list, bool? live)
    {
        var query = db.Sessions.AsNoTracking();
        if (!caller.IsAdmin)
            query = query.Where(s => s.UserId == caller.UserId);
        if (live is { } wantLive)
            query = wantLive ? query.Where(s => s.EndedAt == null) : query.Where(s => s.EndedAt != null);
        if (list.LikePattern is { } like)
        {
            query = query.Where(s =>
                (s.ClientName != null && EF.Functions.Like(s.ClientName.ToLower(), like.ToLower(), ListQuery.LikeEscape)) ||
                db.Users.Any(u => u.Id == s.UserId && u.UserName != null && EF.Functions.Like(u.UserName.ToLower(), like.ToLower(), ListQuery.LikeEscape)) ||
                db.Desktops.Any(d => d.Id == s.DesktopId && EF.Functions.Like(d.Name.ToLower(), like.ToLower(), ListQuery.LikeEscape)));
        }
        return query;
    }
}
