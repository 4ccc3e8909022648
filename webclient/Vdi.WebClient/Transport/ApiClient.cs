using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Vdi.Protocol;

namespace Vdi.WebClient.Transport;

/// <summary>
/// The broker's REST API as the pages use it. Same origin, so the sign-in cookie is sent by the
/// browser; every refusal becomes an <see cref="ApiException"/> carrying the broker's message.
/// </summary>
public sealed class ApiClient(HttpClient http)
{
    private static ProtocolJsonContext Protocol => ProtocolJsonContext.Default;

    private static ClientJsonContext Client => ClientJsonContext.Default;

    public async Task<SignedInUser> SignInAsync(string userName, string password)
    {
        using var response = await http.PostAsJsonAsync("api/auth/sign-in", new SignInRequest(userName, password), Client.SignInRequest).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
            throw new ApiException(HttpStatusCode.Unauthorized, "The user name or the password is wrong.");
        return await ReadAsync(response, Client.SignedInUser).ConfigureAwait(false);
    }

    public async Task SignOutAsync()
    {
        using var response = await http.PostAsync("api/auth/sign-out", null).ConfigureAwait(false);
        await EnsureSuccessAsync(response).ConfigureAwait(false);
    }

    /// <summary>The signed-in user, or null when nobody is signed in.</summary>
    public async Task<SignedInUser?> MeAsync()
    {
        using var response = await http.GetAsync("api/auth/me").ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
            return null;
        return await ReadAsync(response, Client.SignedInUser).ConfigureAwait(false);
    }

    public Task<DesktopSummary[]> GetDesktopsAsync() => GetAsync("api/desktops", Protocol.DesktopSummaryArray);

    /// <summary>What each desktop sends its viewers now (administrators).</summary>
    public Task<DesktopActivitySummary[]> GetDesktopActivityAsync() => GetAsync("api/desktops/activity", Protocol.DesktopActivitySummaryArray);

    /// <summary>The broker's hosts, their state and load (administrators).</summary>
    public Task<HostSummary[]> GetHostsAsync() => GetAsync("api/hosts", Protocol.HostSummaryArray);

    /// <summary>A page of sessions, newest first; <paramref name="liveOnly"/> leaves out ended ones.</summary>
    public Task<ListPage<SessionSummary>> GetSessionsAsync(ListRequest request, bool liveOnly) =>
        GetPageAsync($"api/sessions?{request.Query}{(liveOnly ? "&live=true" : "")}", request, Protocol.SessionSummaryArray);

    /// <summary>A page of the audit log, newest first (administrators).</summary>
    public Task<ListPage<AuditEntry>> GetAuditAsync(ListRequest request) =>
        GetPageAsync($"api/audit?{request.Query}", request, Client.AuditEntryArray);

    public async Task<CreateSessionResponse> CreateSessionAsync(Guid desktopId, ClientDisplay display, string? clientName)
    {
        using var response = await http.PostAsJsonAsync("api/sessions", new CreateSessionRequest(desktopId, display, clientName), Protocol.CreateSessionRequest).ConfigureAwait(false);
        return await ReadAsync(response, Protocol.CreateSessionResponse).ConfigureAwait(false);
    }

    /// <summary>A view-only session on someone's desktop (administrators).</summary>
    public async Task<CreateSessionResponse> ShadowAsync(Guid desktopId)
    {
        using var response = await http.PostAsync($"api/desktops/{desktopId}/shadow", null).ConfigureAwait(false);
        return await ReadAsync(response, Protocol.CreateSessionResponse).ConfigureAwait(false);
    }

    /// <summary>Starts, stops or restarts a desktop (administrators); <paramref name="action"/> is start, stop or restart.</summary>
    public async Task<DesktopSummary> DesktopActionAsync(Guid desktopId, string action)
    {
        using var response = await http.PostAsync($"api/desktops/{desktopId}/{action}", null).ConfigureAwait(false);
        return await ReadAsync(response, Protocol.DesktopSummary).ConfigureAwait(false);
    }

    /// <summary>Starts a live migration of a running desktop to a new VMM instance (administrators); the answer is its first status.</summary>
    public async Task<MigrationStatus> MigrateAsync(Guid desktopId)
    {
        using var response = await http.PostAsync($"api/desktops/{desktopId}/migrate", null).ConfigureAwait(false);
        return await ReadAsync(response, Protocol.MigrationStatus).ConfigureAwait(false);
    }

    /// <summary>A desktop's guest integrity: level, driver, protected set, recent alerts newest first.</summary>
    public Task<IntegrityReport> GetIntegrityAsync(Guid desktopId) => GetAsync($"api/desktops/{desktopId}/integrity", Protocol.IntegrityReport);

    /// <summary>Sets a desktop's integrity level (administrators); the answer says whether it applies now or at the next start.</summary>
    public async Task<IntegritySettingResult> SetIntegrityAsync(Guid desktopId, string level)
    {
        using var response = await http.PutAsJsonAsync($"api/desktops/{desktopId}/integrity", new SetIntegrityRequest(level), Protocol.SetIntegrityRequest).ConfigureAwait(false);
        return await ReadAsync(response, Protocol.IntegritySettingResult).ConfigureAwait(false);
    }

    /// <summary>Marks a desktop fault-tolerant or not (administrators); the answer says whether it applies now or at the next start.</summary>
    public async Task<FaultToleranceSettingResult> SetFaultToleranceAsync(Guid desktopId, bool enabled)
    {
        using var response = await http.PutAsJsonAsync($"api/desktops/{desktopId}/fault-tolerance", new SetFaultToleranceRequest(enabled), Protocol.SetFaultToleranceRequest).ConfigureAwait(false);
        return await ReadAsync(response, Protocol.FaultToleranceSettingResult).ConfigureAwait(false);
    }

    /// <summary>Fail over now (administrators): the primary's host is killed and the secondary takes over.</summary>
    public async Task<FaultToleranceSummary> FailOverAsync(Guid desktopId)
    {
        using var response = await http.PostAsync($"api/desktops/{desktopId}/failover", null).ConfigureAwait(false);
        return await ReadAsync(response, Protocol.FaultToleranceSummary).ConfigureAwait(false);
    }

    /// <summary>Drains a host (administrators): its desktops move to the other hosts; the answer says what moved and what stayed.</summary>
    public async Task<DrainReport> DrainHostAsync(string host)
    {
        using var response = await http.PostAsync($"api/hosts/{Uri.EscapeDataString(host)}/drain", null).ConfigureAwait(false);
        return await ReadAsync(response, Protocol.DrainReport).ConfigureAwait(false);
    }

    /// <summary>Takes a drained host back (administrators).</summary>
    public async Task UndrainHostAsync(string host)
    {
        using var response = await http.DeleteAsync($"api/hosts/{Uri.EscapeDataString(host)}/drain").ConfigureAwait(false);
        await EnsureSuccessAsync(response).ConfigureAwait(false);
    }

    public async Task DisconnectSessionAsync(Guid sessionId)
    {
        using var response = await http.PostAsync($"api/sessions/{sessionId}/disconnect", null).ConfigureAwait(false);
        await EnsureSuccessAsync(response).ConfigureAwait(false);
    }

    private async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type)
    {
        using var response = await http.GetAsync(path).ConfigureAwait(false);
        return await ReadAsync(response, type).ConfigureAwait(false);
    }

    private async Task<ListPage<T>> GetPageAsync<T>(string path, ListRequest request, JsonTypeInfo<T[]> type)
    {
        using var response = await http.GetAsync(path).ConfigureAwait(false);
        var items = await ReadAsync(response, type).ConfigureAwait(false);
        var total = response.Headers.TryGetValues(Paging.TotalCountHeader, out var values)
            && int.TryParse(values.FirstOrDefault(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count)
            ? count
            : items.Length;
        return new ListPage<T>(items, total, request);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type)
    {
        await EnsureSuccessAsync(response).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync(type).ConfigureAwait(false)
            ?? throw new ApiException(response.StatusCode, "The broker sent an empty answer.");
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response)
    {
        if (response.IsSuccessStatusCode)
            return;
        throw new ApiException(response.StatusCode, await DescribeAsync(response).ConfigureAwait(false));
    }

    /// <summary>The broker's own words for a refusal: field errors, else the problem's detail or title.</summary>
    private static async Task<string> DescribeAsync(HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        try
        {
            var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            if (text.Length > 0 && JsonSerializer.Deserialize(text, Client.ProblemBody) is { } problem)
            {
                if (problem.Errors is { Count: > 0 } errors)
                    return string.Join(" ", errors.Values.SelectMany(m => m));
                if ((problem.Detail ?? problem.Title) is { Length: > 0 } said)
                    return said;
            }
        }
        catch (JsonException)
        {
            // Not a problem document; fall back to the status below.
        }
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => "You are not signed in.",
            HttpStatusCode.Forbidden => "You are not allowed to do that.",
            HttpStatusCode.NotFound => "Not found.",
            _ => $"The broker answered {status} {response.ReasonPhrase}.",
        };
    }
}
