using System.Security.Claims;
using Vdi.Server.Accounts;
using Vdi.Server.Cluster;

namespace Vdi.Server.Api;

/// <summary>
/// <c>GET /api/hosts</c> (administrators): the hosts, their state and load; <c>POST /api/hosts/{name}/drain</c> moves a
/// host's desktops to the other hosts by live migration and keeps new ones off it, <c>DELETE</c> on the same address
/// takes it back.
/// </summary>
public static class HostEndpoints
{
    public static void MapHostEndpoints(this IEndpointRouteBuilder app)
    {
        var hosts = app.MapGroup("/api/hosts").RequireAuthorization(Roles.Admin);
        hosts.MapGet("/", async (IHostRoster roster, CancellationToken cancellationToken) => TypedResults.Ok(await roster.ListAsync(cancellationToken)));
        hosts.MapPost("/{name}/drain", async Task<IResult> (string name, ClaimsPrincipal user, IHostDrain drain) =>
        {
            try
            {
                return TypedResults.Ok(await drain.DrainAsync(name, Caller.From(user).UserId));
            }
            catch (DrainRefusedException e)
            {
                return e.NotFound ? Problems.NotFound(e.Message) : Problems.Conflict(e.Message);
            }
        }).WithDescription("Drains a host: it takes no new desktops, and each desktop running on it moves to another host by live migration, " +
            "one at a time, its viewers reconnecting there. Answers when done, with each desktop moved or the reason it stayed.");
        hosts.MapDelete("/{name}/drain", async Task<IResult> (string name, ClaimsPrincipal user, IHostDrain drain) =>
        {
            try
            {
                await drain.UndrainAsync(name, Caller.From(user).UserId);
                return TypedResults.NoContent();
            }
            catch (DrainRefusedException e)
            {
                return e.NotFound ? Problems.NotFound(e.Message) : Problems.Conflict(e.Message);
            }
        }).WithDescription("Undoes a drain: the host takes desktops again (its desktops that moved away stay where they are).");
    }
}
