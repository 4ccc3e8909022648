using System.Net.Http.Json;
using Vdi.Protocol;

namespace Vdi.Tests.Shared;

/// <summary>The desktop's terminal as the broker reads it from inside the guest (the integrity report's view).</summary>
internal static class GuestTerminal
{
    /// <summary>Until the terminal's last line is <paramref name="line"/> (30 s at most).</summary>
    public static async Task UntilLastLineAsync(HttpClient api, Guid id, string line)
    {
        string? last = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            last = (await api.GetFromJsonAsync<IntegrityReport>($"api/desktops/{id}/integrity"))?.Inside?.LastLine;
            if (last == line)
                return;
        }
        Assert.Fail($"the terminal's last line is '{last}', not '{line}'");
    }
}
