using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Integrity;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;

namespace Vdi.Server.Tests.Integrity;

/// <summary>
/// A running desktop's integrity through the API and the audit log. The built-in desktop here runs, in process, a
/// guest with an integrity driver of the VMM's tests (it registers, then idles), and its alerts come from device
/// writes into its refused kernel data page — DMA, as a hostile guest could aim a device at it.
/// </summary>
public sealed class RunningDesktopIntegrityTests : IDisposable
{
    private const int EntriesPerWindow = 3;
    private readonly BrokerFactory _factory = new(autoStart: false, runningDesktops: true, settings: new Dictionary<string, string?>
    {
        ["Vdi:Desktops:Isolation"] = "InProcess",
        ["Vdi:Integrity:WindowSeconds"] = "2",
        ["Vdi:Integrity:EntriesPerWindow"] = $"{EntriesPerWindow}",
    });

    [Fact]
    public async Task The_API_reports_the_protected_set_and_the_alerts_and_a_flood_is_bounded_in_the_audit_log()
    {
        var admin = await _factory.SignedInAsync();
        var (id, machine) = await StartDriverGuestAsync(admin);

        var report = await WaitForAsync(admin, id, r => r.DriverRegistered, "the driver's registration");
        Assert.Equal((IntegrityLevels.Enforce, IntegrityLevels.Enforce), (report.Level, report.RunningLevel));
        Assert.Equal(4, report.ProtectedTotal);
        var data = Assert.Single(report.Protected, r => r.Tag == IntegrityGuest.DataTag);
        Assert.Equal(($"0x{IntegrityGuest.KernelData:X}", 1L, "refuse"), (data.Start, data.Pages, data.Action));
        Assert.Empty(report.Alerts);

        // A flood: far more alerts than the desktop's rate limit lets through, let alone the audit log's window.
        const int Writes = 200;
        for (var i = 0; i < Writes; i++)
            Assert.False(machine.Memory.TryWrite(IntegrityGuest.KernelData, BitConverter.GetBytes((ulong)i), "virtio-gpu")); // refused
        report = await WaitForAsync(admin, id, r => r.AlertCount == Writes, "every alert counted");
        Assert.Equal(IntegrityGuest.DataMarker, machine.Memory.Read<ulong>(IntegrityGuest.KernelData)); // every write refused
        Assert.InRange(report.Alerts.Count, 1, AlertThrottle.DefaultPerSecond * 2);
        Assert.Equal(Writes - report.Alerts.Count, report.SuppressedAlerts);
        var newest = report.Alerts[0];
        Assert.True(newest.Sequence > report.Alerts[^1].Sequence, $"newest first: {string.Join(", ", report.Alerts.Select(a => a.Sequence))}");
        Assert.Equal(("protected-page", "virtio-gpu", "refuse", false), (newest.Kind, newest.Device, newest.Action, newest.Applied));
        Assert.Equal(($"0x{IntegrityGuest.KernelData:X}", $"0x{IntegrityGuest.KernelData:X}"), (newest.Physical, newest.Virtual));
        Assert.Equal(Convert.ToHexString(BitConverter.GetBytes(IntegrityGuest.DataMarker)), newest.Before);
        Assert.Equal(Writes, (await admin.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{id}"))!.IntegrityAlerts);

        // The audit log: the window's first entries one by one, the rest in one entry with their count.
        var entries = await WaitForAuditAsync(admin, e => e.Any(a => a.Action == "integrity.alerts-coalesced"));
        Assert.Equal(EntriesPerWindow, entries.Count(e => e.Action == "integrity.alert"));
        var coalesced = Assert.Single(entries, e => e.Action == "integrity.alerts-coalesced");
        Assert.Contains($"{Writes - EntriesPerWindow} more integrity alert(s)", coalesced.Detail, StringComparison.Ordinal); // {coalesced.Detail}
        Assert.Contains("over the desktop's rate limit", coalesced.Detail, StringComparison.Ordinal);

        // Audit applies at once: the next write lands, and says so.
        var set = (await (await admin.PutAsJsonAsync($"/api/desktops/{id}/integrity", new { level = "audit" })).Content.ReadFromJsonAsync<IntegritySettingResult>())!;
        Assert.Equal(("now", IntegrityLevels.Audit), (set.Applies, set.RunningLevel));
        await Task.Delay(1100); // a fresh second of the rate limit
        Assert.True(machine.Memory.TryWrite(IntegrityGuest.KernelData, BitConverter.GetBytes(0x5EUL), "virtio-gpu"));
        report = await WaitForAsync(admin, id, r => r.Alerts[0].Applied, "an applied alert");
        Assert.Equal(0x5EUL, machine.Memory.Read<ulong>(IntegrityGuest.KernelData));

        // Off waits for the next start.
        set = (await (await admin.PutAsJsonAsync($"/api/desktops/{id}/integrity", new { level = "off" })).Content.ReadFromJsonAsync<IntegritySettingResult>())!;
        Assert.Equal(("next-start", IntegrityLevels.Off, IntegrityLevels.Audit), (set.Applies, set.Level, set.RunningLevel));
        Assert.Contains("next start", set.Message, StringComparison.Ordinal);
    }

    /// <summary>Starts the built-in desktop on the driver guest, at the level the broker gives it.</summary>
    private async Task<(Guid Id, Vmm.Machine.Machine Machine)> StartDriverGuestAsync(HttpClient admin)
    {
        var id = (await admin.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))![0].Id;
        var pool = _factory.Services.GetRequiredService<DesktopPool>();
        Vmm.Machine.Machine? machine = null;
        pool.Get(id)!.CreateMachine = config =>
        {
            machine = IntegrityGuest.Machine(EngineChoice.Software, IntegrityGuest.Build((a, _) =>
            {
                PowerPortEmitter.EmitBootMarker(a, BootMarkers.Idle); // the desktop counts as started
                PowerPortEmitter.EmitHaltForever(a);
            }), config.Integrity);
            return Task.FromResult<IDesktopMachine>(new LocalDesktop(machine));
        };
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/api/desktops/{id}/start", null)).StatusCode);
        Assert.Equal("Running", (await admin.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{id}"))!.State);
        return (id, machine!);
    }

    internal static async Task<IntegrityReport> WaitForAsync(HttpClient client, Guid id, Func<IntegrityReport, bool> condition, string what)
    {
        IntegrityReport report;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition(report = (await client.GetFromJsonAsync<IntegrityReport>($"/api/desktops/{id}/integrity"))!))
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 30 s for {what}: {JsonSerializer.Serialize(report)}");
            await Task.Delay(50);
        }
        return report;
    }

    private static async Task<List<AuditEntry>> WaitForAuditAsync(HttpClient client, Func<List<AuditEntry>, bool> condition)
    {
        List<AuditEntry> entries;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition(entries = (await client.GetFromJsonAsync<List<AuditEntry>>("/api/audit?q=integrity.&pageSize=200"))!))
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 30 s for the audit log: {string.Join("\n", entries.Select(e => $"{e.Action}: {e.Detail}"))}");
            await Task.Delay(100);
        }
        return entries;
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
