using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Vdi.Server.Storage;
using Yarp.ReverseProxy.Forwarder;

namespace Vdi.Server.Cluster;

/// <summary>
/// In a cluster, a request bound to a desktop that another host runs is forwarded to that host, so a browser may reach
/// any host and keep one origin (docs/broker.md, "Routing"): the desktop hub (<c>/hubs/desktop?desktop={id}</c>, its
/// WebSocket included), the desktop's own routes (<c>/api/desktops/{id}/…</c>), a new session
/// (<c>POST /api/sessions</c>, by the desktop in its body) and an administrator's disconnect of a session
/// (<c>POST /api/sessions/{id}/disconnect</c>, by the session's desktop). Anything else, a desktop placed nowhere,
/// and a request another host already forwarded are served here; one for a desktop whose host died is answered 503 until
/// the desktop is placed again. YARP's forwarder carries the request as it came
/// (cookies included; every host reads every cookie).
/// </summary>
public sealed class DesktopForwarding(IHttpForwarder forwarder, IServiceScopeFactory scopes, IGrainFactory grains, IClusterMembershipService membership,
    ClusterDesktops desktops, ILogger<DesktopForwarding> log) : IDisposable
{
    /// <summary>Set on a forwarded request: the host it came through. A request that has it is never forwarded again.</summary>
    public const string ForwardedByHeader = "X-Vdi-Forwarded-By";

    /// <summary>A session request larger than this is not read for its desktop (a real one is a few hundred bytes).</summary>
    private const int MaxSessionRequestBytes = 16 * 1024;

    private static readonly TimeSpan s_urlFor = TimeSpan.FromSeconds(30);

    private readonly HttpMessageInvoker _client = new(new SocketsHttpHandler
    {
        UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(5), EnableMultipleHttp2Connections = true,
    });

    private readonly ConcurrentDictionary<string, (Uri Url, DateTime Until)> _urls = new();

    public async Task HandleAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Headers.ContainsKey(ForwardedByHeader) || await DesktopOfAsync(context.Request).ConfigureAwait(false) is not { } desktop)
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        var (owner, lost) = await OwnerAsync(desktop).ConfigureAwait(false);
        if (lost is not null)
        {
            // Its host died and the cluster has not placed it again yet: a client retries (the viewer reconnects).
            context.Response.Headers.RetryAfter = "2";
            await Results.Problem($"the desktop's host {lost} is gone; it starts again on another host in a moment", statusCode: StatusCodes.Status503ServiceUnavailable)
                .ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        if (owner is null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        context.Request.Headers[ForwardedByHeader] = desktops.Me;
        var error = await forwarder.SendAsync(context, (await UrlAsync(owner).ConfigureAwait(false)).ToString(), _client).ConfigureAwait(false);
        if (error != ForwarderError.None)
        {
            _urls.TryRemove(owner, out _);
            ClusterLog.ForwardFailed(log, context.Request.Path, owner, error.ToString());
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>The desktop a request is bound to, or null.</summary>
    private async Task<Guid?> DesktopOfAsync(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        if (path.StartsWith(Hubs.DesktopHub.Path, StringComparison.OrdinalIgnoreCase))
            return Guid.TryParse(request.Query["desktop"], out var hub) ? hub : null;
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts is ["api", "desktops", var id, _, ..] && Guid.TryParse(id, out var desktop))
            return desktop;
        if (parts is ["api", "sessions", var session, "disconnect"] && Guid.TryParse(session, out var sessionId))
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<VdiDbContext>().Sessions.AsNoTracking()
                .Where(s => s.Id == sessionId).Select(s => (Guid?)s.DesktopId).FirstOrDefaultAsync().ConfigureAwait(false);
        }
        if (parts is ["api", "sessions"] && HttpMethods.IsPost(request.Method) && request.ContentLength is null or <= MaxSessionRequestBytes)
        {
            // The body (sent chunked by some clients) is read here and again by whoever serves it; past the limit it is
            // left to the server here, whose own limits answer it.
            request.EnableBuffering(MaxSessionRequestBytes, MaxSessionRequestBytes);
            try
            {
                using var body = await JsonDocument.ParseAsync(request.Body).ConfigureAwait(false);
                return body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("desktopId", out var value)
                    && value.TryGetGuid(out var target) ? target : null;
            }
            catch (Exception e) when (e is JsonException or IOException)
            {
                return null; // served here, where the bad body gets its answer
            }
            finally
            {
                if (request.Body.CanSeek)
                    request.Body.Position = 0;
            }
        }
        return null;
    }

    /// <summary>
    /// The active host other than this one that the desktop is placed on (else served here), or, for a desktop that
    /// should run on a host that is no longer active, that lost host.
    /// </summary>
    private async Task<(string? Owner, string? Lost)> OwnerAsync(Guid desktop)
    {
        await using var scope = scopes.CreateAsyncScope();
        var placed = await scope.ServiceProvider.GetRequiredService<VdiDbContext>().Desktops.AsNoTracking()
            .Where(d => d.Id == desktop).Select(d => new { d.HostName, d.ShouldRun }).FirstOrDefaultAsync().ConfigureAwait(false);
        if (placed?.HostName is not { } host || host == desktops.Me)
            return (null, null);
        return membership.ActiveHostNames().Contains(host) ? (host, null) : placed.ShouldRun ? (null, host) : (null, null);
    }

    private async Task<Uri> UrlAsync(string host)
    {
        if (_urls.TryGetValue(host, out var known) && known.Until > DateTime.UtcNow)
            return known.Url;
        var url = await grains.GetGrain<IHostGrain>(host).GetHttpUrlAsync().ConfigureAwait(false);
        _urls[host] = (url, DateTime.UtcNow + s_urlFor);
        return url;
    }
}
