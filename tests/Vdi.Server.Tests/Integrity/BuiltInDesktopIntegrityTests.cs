using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;
using Vdi.Vmm.Devices.Input;

namespace Vdi.Server.Tests.Integrity;

/// <summary>
/// The built-in desktop's own integrity driver (registered at boot) and its terminal's <c>attack idt</c> command, seen
/// through the API: the protected set is listed, the attack shows as an alert on the IDT, and the terminal's line about
/// it is read from inside the guest. Desktops run where
/// <c>VDI_TEST_ISOLATION</c> says (by default in host processes, so the alert crosses the host protocol).
/// </summary>
public sealed class BuiltInDesktopIntegrityTests : IDisposable
{
    private readonly BrokerFactory _factory = new(runningDesktops: true);

    [Fact]
    public async Task The_built_in_desktop_lists_its_protections_and_an_attack_typed_in_its_terminal_is_alerted()
    {
        var admin = await _factory.SignedInAsync();
        var id = (await admin.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))![0].Id;
        var report = await RunningDesktopIntegrityTests.WaitForAsync(admin, id, r => r.DriverRegistered && r.Protected.Count > 0, "the built-in desktop's driver");
        Assert.Equal((IntegrityLevels.Enforce, IntegrityLevels.Enforce), (report.Level, report.RunningLevel));
        Assert.Empty(report.Alerts);

        var desktop = _factory.Services.GetRequiredService<DesktopPool>().Get(id)!.Desktop!;
        foreach (var c in "attack idt\n")
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out _), $"no key for '{c}'");
            Assert.True(desktop.SendKey(code, true));
            Assert.True(desktop.SendKey(code, false));
        }
        report = await RunningDesktopIntegrityTests.WaitForAsync(admin, id, r => r.Alerts.Count > 0, "the attack's alert");
        var alert = report.Alerts[0];
        Assert.Equal("protected-page", alert.Kind);
        Assert.NotNull(alert.Rip);
        Assert.NotEqual(alert.Before, alert.After);
        Assert.True((await admin.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{id}"))!.IntegrityAlerts >= 1);

        // What the VMM reads from inside the guest: its uptime, and the terminal's last line — the attack's report.
        report = await RunningDesktopIntegrityTests.WaitForAsync(admin, id, r => r.Inside?.LastLine.StartsWith("attack idt:", StringComparison.Ordinal) == true, "the attack's line read from inside the guest");
        Assert.InRange(report.Inside!.UptimeSeconds, 0, 600);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
