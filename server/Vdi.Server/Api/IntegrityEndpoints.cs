using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Accounts;
using Vdi.Server.Desktops;
using Vdi.Server.Integrity;
using Vdi.Server.Storage;

namespace Vdi.Server.Api;

/// <summary>
/// A desktop's guest integrity: its report (administrators, or the desktop's owner, as for the desktop itself) and
/// its setting (administrators). Audit ↔ enforce applies to a running desktop at once; switching integrity off or on
/// applies at its next start, and the answer says which.
/// </summary>
public static class IntegrityEndpoints
{
    public static void MapIntegrityEndpoints(this IEndpointRouteBuilder app)
    {
        var desktops = app.MapGroup("/api/desktops").WithTags("desktops").RequireAuthorization();
        desktops.MapGet("/{id:guid}/integrity", async Task<IResult> (Guid id, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool) =>
        {
            var record = await db.Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id);
            if (record is null || !Caller.From(user).CanUse(record))
                return NotFound(id);
            var host = pool.Get(id);
            var report = IntegrityReports.Of(record.Integrity, host);
            if (host is not null && await host.InspectAsync() is { } inside)
                report = report with { Inside = new GuestViewSummary((long)inside.Uptime.TotalSeconds, inside.LastLine) };
            return TypedResults.Ok(report);
        }).WithDescription("The desktop's guest integrity: the level stored and the one running, whether the guest's driver registered, " +
            "the protected ranges, the recent alerts (newest first) and how many there were, and what the VMM reads from inside the running guest " +
            "(its uptime and its terminal's last line).");

        desktops.MapPut("/{id:guid}/integrity", async Task<IResult> (Guid id, SetIntegrityRequest? request, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool, AuditLog audit) =>
        {
            if (request is null)
                return Problems.Validation([new ValidationError(ProtocolJson.RootField, "the request body is required: {\"level\": \"off\" | \"audit\" | \"enforce\"}")]);
            if (IntegrityLevels.Check("level", request.Level) is { } error)
                return Problems.Validation([error]);
            var level = IntegrityLevels.Normalize(request.Level)!;
            var record = await db.Desktops.FirstOrDefaultAsync(d => d.Id == id);
            if (record is null)
                return NotFound(id);
            record.Integrity = level;
            audit.Add(db, Caller.From(user).UserId, "desktop.integrity", $"{record.Name} ({record.Id}): {level}");
            await db.SaveChangesAsync();
            var host = pool.Get(id);
            var now = host?.SetIntegrity(IntegrityNames.Parse(level)) ?? true;
            var running = host?.Desktop?.Integrity.Level is { } l ? IntegrityNames.Name(l) : null;
            return TypedResults.Ok(new IntegritySettingResult(level, running, now ? "now" : "next-start", now
                ? running is null ? $"integrity is {level}; the desktop uses it when it starts" : $"integrity is {level} now"
                : $"integrity is stored as {level}; the running desktop stays at {running} until its next start (integrity is switched off or on only when a desktop starts)"));
        }).RequireAuthorization(Roles.Admin).WithDescription("Sets the desktop's guest integrity: {\"level\": \"off\" | \"audit\" | \"enforce\"}. " +
            "Audit and enforce swap on a running desktop at once; off ↔ on applies at the next start (\"applies\": \"now\" or \"next-start\").");
    }

    private static IResult NotFound(Guid id) => Problems.NotFound($"desktop '{id}' was not found (or is not yours)");
}
