using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Accounts;
using Vdi.Server.Desktops;
using Vdi.Server.Storage;

namespace Vdi.Server.Api;

/// <summary>
/// Fault tolerance (<c>docs/vmm.md</c>, "Fault tolerance across processes"): the pair's state (administrators, or the
/// desktop's owner), the setting (administrators; it applies when the desktop starts) and "fail over now"
/// (administrators): the primary's host is killed and the secondary takes over while the viewers stay connected.
/// </summary>
public static class FaultToleranceEndpoints
{
    public static void MapFaultToleranceEndpoints(this IEndpointRouteBuilder app)
    {
        var desktops = app.MapGroup("/api/desktops").WithTags("desktops").RequireAuthorization();
        desktops.MapGet("/{id:guid}/fault-tolerance", async Task<IResult> (Guid id, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool) =>
        {
            var record = await db.Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id);
            if (record is null || !Caller.From(user).CanUse(record) || pool.Get(id) is not { } host)
                return NotFound(id);
            return TypedResults.Ok(host.FaultToleranceSummary);
        }).WithDescription("The desktop's fault tolerance: the setting, and while a pair runs its state (protected, resynchronising, protecting, " +
            "unprotected, failing-over), the primary's and secondary's host processes, the lag in guest instructions, outputs held and released, " +
            "and the counts of resyncs, failovers and secondaries lost, with the last event.");

        desktops.MapPut("/{id:guid}/fault-tolerance", async Task<IResult> (Guid id, SetFaultToleranceRequest? request, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool, AuditLog audit) =>
        {
            if (request?.Enabled is not { } enabled)
                return Problems.Validation([new ValidationError("enabled", "the request body is required: {\"enabled\": true | false}")]);
            var record = await db.Desktops.FirstOrDefaultAsync(d => d.Id == id);
            if (record is null || pool.Get(id) is not { } host)
                return NotFound(id);
            if (enabled && host.FaultToleranceRefusal() is { } refused)
                return Problems.Conflict(refused);
            record.FaultTolerant = enabled;
            host.FaultTolerant = enabled;
            audit.Add(db, Caller.From(user).UserId, "desktop.fault-tolerance", $"{record.Name} ({record.Id}): {(enabled ? "on" : "off")}");
            await db.SaveChangesAsync();
            var running = host.State == DesktopState.Running;
            var why = await host.ApplyFaultToleranceAsync();
            var what = enabled ? "fault-tolerant" : "a single machine";
            return TypedResults.Ok(why is null
                ? new FaultToleranceSettingResult(enabled, "now", running ? $"the desktop is {what} now" : $"the desktop runs as {what} when it starts")
                : new FaultToleranceSettingResult(enabled, "next-start", $"the desktop runs as {what} from its next start ({why})"));
        }).RequireAuthorization(Roles.Admin).WithDescription("Marks the desktop fault-tolerant or not: {\"enabled\": true | false}. On a running desktop it " +
            "applies at once — switched on, the desktop moves by live migration into a pair (a recording primary host, then a secondary made from it; " +
            "its viewers stay connected); switched off, the pair lets its secondary go — else at its next start (\"applies\": \"now\" or \"next-start\", " +
            "with why). A fault-tolerant desktop needs host processes and 1 vCPU (409 otherwise), and runs on the software engine.");

        desktops.MapPost("/{id:guid}/failover", async Task<IResult> (Guid id, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool, AuditLog audit) =>
        {
            var record = await db.Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id);
            if (record is null || pool.Get(id) is not { } host)
                return NotFound(id);
            var caller = Caller.From(user);
            try
            {
                host.FailOver($"by the administrator {user.Identity?.Name ?? caller.UserId}");
            }
            catch (InvalidOperationException e)
            {
                return Problems.Conflict(e.Message);
            }
            audit.Add(db, caller.UserId, "desktop.failover", $"{record.Name} ({record.Id}): fail over now");
            await db.SaveChangesAsync();
            return TypedResults.Accepted($"/api/desktops/{id}/fault-tolerance", host.FaultToleranceSummary);
        }).RequireAuthorization(Roles.Admin).WithDescription("Fail over now: kills the primary's host process; the secondary takes over and the " +
            "desktop's viewers stay connected. 202 with the pair's state (follow it with GET …/fault-tolerance); 409 when no secondary follows.");
    }

    private static IResult NotFound(Guid id) => Problems.NotFound($"desktop '{id}' was not found (or is not yours)");
}
