using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Desktops;

/// <summary>
/// A fault-tolerant desktop on KVM through the broker: the pair runs on the engine the desktop's setting chooses — a
/// quasi-lockstep pair, whose secondary runs on KVM too — it is protected, fails over by hand and is protected again.
/// </summary>
public sealed class FaultToleranceKvmTests : IDisposable
{
    private readonly BrokerFactory _factory = new(runningDesktops: true, settings: new Dictionary<string, string?> { ["Vdi:Desktops:Engine"] = "Kvm" });

    [Fact]
    [Trait("Requires", "kvm")]
    public async Task A_desktop_on_kvm_runs_as_a_quasi_lockstep_pair_and_fails_over()
    {
        var api = await _factory.SignedInAsync();
        var running = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var host = _factory.Services.GetRequiredService<DesktopPool>().Get(running.Id)!;
        var set = await api.PutAsJsonAsync($"/api/desktops/{host.Id}/fault-tolerance", new { enabled = true });
        if (BrokerFactory.Isolation == "InProcess")
        {
            Assert.Equal(HttpStatusCode.Conflict, set.StatusCode); // a pair needs host processes
            return;
        }
        var result = (await set.Content.ReadFromJsonAsync<FaultToleranceSettingResult>())!;
        Assert.True(result.Applies == "now", result.Message);
        var protectedStatus = await UntilStatusAsync(api, host.Id, s => s.State == "protected", "protection");
        var pair = host.Pair!;
        Assert.False(pair.Primary.IsSoftware, pair.Primary.Engine);
        Assert.False(pair.Secondary!.IsSoftware, pair.Secondary.Engine);

        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsync($"/api/desktops/{host.Id}/failover", null)).StatusCode);
        await UntilStatusAsync(api, host.Id, s => s.Failovers == 1 && s.PrimaryProcessId == protectedStatus.SecondaryProcessId, "the failover");
        await UntilStatusAsync(api, host.Id, s => s.State == "protected" && s.SecondaryProcessId is { } id && id != protectedStatus.PrimaryProcessId, "protection after the failover");
        Assert.False(host.Pair!.Primary.IsSoftware);
        Assert.False(host.Pair.Secondary!.IsSoftware);
    }

    private static async Task<FaultToleranceSummary> UntilStatusAsync(HttpClient api, Guid id, Func<FaultToleranceSummary, bool> condition, string what)
    {
        FaultToleranceSummary? last = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(90); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            last = (await api.GetFromJsonAsync<FaultToleranceSummary>($"/api/desktops/{id}/fault-tolerance"))!;
            if (condition(last))
                return last;
        }
        throw new TimeoutException($"no {what} within 90 s: {last}");
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
