using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using SkiaSharp;
using Vdi.Protocol;
using Vdi.Server.Accounts;
using Vdi.Server.Desktops;
using Vdi.Server.Sessions;
using Vdi.Server.Storage;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Api;

/// <summary>What the dashboard needs beyond the desktop life cycle: the audit log, ending and shadowing sessions, thumbnails.</summary>
public static class AdminEndpoints
{
    public const int ThumbnailWidth = 320;

    public static void MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api").WithTags("admin").RequireAuthorization(Roles.Admin);

        admin.MapGet("/audit", async Task<IResult> (HttpRequest request, VdiDbContext db) =>
        {
            List<ValidationError> errors = [];
            var list = ListQuery.Parse(request.Query, errors);
            if (errors.Count > 0)
                return Problems.Validation(errors);
            var query = db.Audit.AsNoTracking();
            if (list.LikePattern is { } like)
            {
                // The action, the target (the detail names it) or who did it, any case.
                query = query.Where(a =>
                    EF.Functions.Like(a.Action.ToLower(), like.ToLower(), ListQuery.LikeEscape) ||
                    EF.Functions.Like(a.Detail.ToLower(), like.ToLower(), ListQuery.LikeEscape) ||
                    db.Users.Any(u => u.Id == a.UserId && u.UserName != null && EF.Functions.Like(u.UserName.ToLower(), like.ToLower(), ListQuery.LikeEscape)));
            }
            var (records, total) = await list.PageAsync(query.OrderByDescending(a => a.Id));
            // The dashboard shows who, by name: one look-up for the users on this page.
            var ids = records.Select(a => a.UserId).OfType<string>().Distinct().ToList();
            var names = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.UserName);
            return ListQuery.Ok(request.HttpContext.Response, records.Select(a => new AuditEntry(
                a.Id, a.At, a.UserId, a.Action, a.Detail, a.UserId is { } id && names.TryGetValue(id, out var name) ? name : null)).ToList(), total);
        }).WithDescription("The audit log, newest first, a page at a time: page, pageSize (1-200, default 50), " +
            "q (the action, the detail or the user's name contains it, any case). The X-Total-Count header carries how many match.");

        admin.MapPost("/sessions/{id:guid}/disconnect", async Task<IResult> (Guid id, ClaimsPrincipal user, SessionBroker broker, VdiDbContext db, AuditLog audit) =>
        {
            if (!await broker.EndByAdminAsync(id))
                return TypedResults.NotFound();
            audit.Add(db, Caller.From(user).UserId, "session.disconnect", id.ToString());
            await db.SaveChangesAsync();
            return TypedResults.NoContent();
        });

        admin.MapPost("/desktops/{id:guid}/shadow", async Task<IResult> (Guid id, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool, AuditLog audit, TimeProvider time, Microsoft.Extensions.Options.IOptions<SessionBrokerOptions> options) =>
        {
            var desktop = await db.Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id);
            if (desktop is null)
                return TypedResults.NotFound();
            if (pool.Get(id) is not { State: DesktopState.Running })
                return Problems.Conflict($"desktop '{desktop.Name}' is not running");
            var caller = Caller.From(user);
            var issued = SessionIssuer.Issue(db, time, options.Value.ConnectTokenLifetime, id, caller.UserId, display: null, clientName: "shadow", shadow: true);
            audit.Add(db, caller.UserId, "session.shadow", $"{issued.SessionId} on {desktop.Name}");
            await db.SaveChangesAsync();
            return TypedResults.Created($"/api/sessions/{issued.SessionId}", issued);
        });

        admin.MapGet("/desktops/{id:guid}/thumbnail", IResult (Guid id, DesktopPool pool) =>
        {
            // Through the desktop: under the machine's lease in process, from the shared scanout otherwise.
            var desktop = pool.Get(id)?.Desktop;
            var snapshot = desktop is null ? null : new Display.DesktopScanoutSource(desktop).CaptureAll();
            if (snapshot is null)
                return TypedResults.NotFound();
            return TypedResults.File(Thumbnail(snapshot), "image/png");
        });
    }

    /// <summary>The scanout scaled to <see cref="ThumbnailWidth"/> pixels wide, as PNG.</summary>
    internal static byte[] Thumbnail(ScanoutSnapshot snapshot)
    {
        using var full = ScanoutImage.ToBitmap(snapshot);
        var width = Math.Min(ThumbnailWidth, snapshot.Width);
        var height = Math.Max(1, (int)Math.Round((double)snapshot.Height * width / snapshot.Width));
        using var small = full.Resize(new SKImageInfo(width, height, SKColorType.Bgra8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        using var data = small.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
