using Vdi.Guest.Desktop;
using Vdi.Guest.Integrity;
using Vdi.Guest.Paging;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;

namespace Vdi.Guest.Tests.Integrity;

/// <summary>
/// The desktop guest with its integrity driver on the software engine: it registers and protects its kernel, each
/// attack typed in its terminal is caught (refused in enforce mode, landing in audit mode) and the desktop works on;
/// without integrity it runs unprotected.
/// </summary>
public sealed class SoftwareDesktopIntegrityTests() : DesktopIntegrityTestsBase(EngineChoice.Software);

/// <summary>
/// The same on KVM, where every traced page is a read-only memory slot: the desktop's page tables have their accessed
/// and dirty bits preset and its GDT its accessed bits set, so the hardware never writes a traced page.
/// </summary>
[Trait("Requires", "kvm")]
public sealed class KvmDesktopIntegrityTests() : DesktopIntegrityTestsBase(EngineChoice.Kvm);

public abstract class DesktopIntegrityTestsBase(EngineChoice engine)
{
    private static readonly DisplayProperties s_after = new(1024, 768, 96);

    /// <summary>Every attack command in both modes that trace: refused (enforce) and landing (audit).</summary>
    public static TheoryData<string, IntegrityLevel> Attacks { get; } = new()
    {
        { "idt", IntegrityLevel.Enforce }, { "idt", IntegrityLevel.Audit },
        { "code", IntegrityLevel.Enforce }, { "code", IntegrityLevel.Audit },
        { "remap", IntegrityLevel.Enforce }, { "remap", IntegrityLevel.Audit },
        { "dma", IntegrityLevel.Enforce }, { "dma", IntegrityLevel.Audit },
    };

    private static ulong Symbol(string name) => IntegrityDesktop.Image.Symbol(name);

    [Fact]
    public async Task The_desktop_registers_its_driver_and_protects_its_kernel()
    {
        using var desktop = await IntegrityDesktop.BootAsync(engine, IntegrityLevel.Enforce);

        var driver = Assert.IsType<IntegrityDriver>(desktop.Integrity.Driver);
        Assert.Equal(GuestPageTables.Pml4, driver.Cr3 & ~0xFFFUL);
        Assert.Equal(0u, desktop.Machine.Memory.Read<uint>(Symbol(DesktopGuest.IntegrityStatusSymbol)));
        var ranges = desktop.Integrity.Protected.ToDictionary(r => r.Tag);
        Assert.Equal([ProtectedRegions.KernelCodeTag, ProtectedRegions.DriverTag, ProtectedRegions.IdtTag, ProtectedRegions.GdtTag], ranges.Keys.Order());
        Assert.All(ranges.Values, r => Assert.Equal(ProtectionAction.Refuse, r.Action));
        Assert.Equal((GuestLayout.ImageBase, IntegrityDesktop.Image.Symbol(Vmm.Images.GuestAssembly.DataStartSymbol)), (ranges[ProtectedRegions.KernelCodeTag].Start, ranges[ProtectedRegions.KernelCodeTag].End));
        Assert.True(ranges[ProtectedRegions.KernelCodeTag].Contains(driver.EntryPoint));
        Assert.Equal((Symbol(DesktopGuest.IdtSymbol), 1UL), (ranges[ProtectedRegions.IdtTag].Start, ranges[ProtectedRegions.IdtTag].Pages));
        Assert.Equal((Symbol(DesktopGuest.IntegrityDriverSymbol), 1UL), (ranges[ProtectedRegions.DriverTag].Start, ranges[ProtectedRegions.DriverTag].Pages));
        Assert.Equal((GuestLayout.GdtAddress, 2UL), (ranges[ProtectedRegions.GdtTag].Start, ranges[ProtectedRegions.GdtTag].Pages));
        var pages = ranges.Values.Sum(r => (long)r.Pages);
        Assert.Contains($"integrity: registered, {pages} pages protected\n", desktop.Serial, StringComparison.Ordinal);

        // Traced: what the tree names and the tables on the way to it; not the desktop's busy data, not the rest of the tables.
        var tracer = desktop.Machine.Tracer;
        foreach (var page in new[] { GuestPageTables.Pml4, GuestPageTables.Pdpt, GuestPageTables.PageDirectories, GuestPageTables.KernelTable, GuestLayout.GdtAddress, GuestLayout.TssAddress, Symbol(DesktopGuest.IdtSymbol), Symbol(DesktopGuest.IntegrityDriverSymbol), Symbol(DesktopGuest.AttackCodeTargetSymbol) })
            Assert.True(tracer.IsTraced(page), $"0x{page:X} is not traced");
        foreach (var page in new[] { GuestPageTables.PageDirectories + 0x1000, Symbol(DesktopGuest.TextSymbol), Symbol(DesktopGuest.WidthSymbol), Symbol(DesktopGuest.MotionFramesSymbol), GuestLayout.StackTop - 8, GuestPageTables.SparePage })
            Assert.False(tracer.IsTraced(page), $"0x{page:X} is traced");

        await desktop.RepaintAsync(s_after);
        await desktop.TypeAsync("hello");
        Assert.Empty(desktop.Integrity.Alerts);
    }

    /// <summary>An attack typed in the terminal: the alert it raises, what the terminal says, and a desktop that repaints and takes typing afterwards.</summary>
    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task An_attack_typed_in_the_terminal_is_caught_and_the_desktop_works_on(string attack, IntegrityLevel level)
    {
        using var desktop = await IntegrityDesktop.BootAsync(engine, level);
        var applied = level == IntegrityLevel.Audit;
        var line = await desktop.RunCommandAsync($"attack {attack}");

        var idt = Symbol(DesktopGuest.IdtSymbol);
        var (kind, at, suffix, count) = attack switch
        {
            "idt" => (IntegrityAlertKind.ProtectedPage, idt + (AttackEmitter.GateVector * 16), applied ? ": landed" : ": refused", 1),
            "code" => (IntegrityAlertKind.ProtectedPage, Symbol(DesktopGuest.AttackCodeTargetSymbol), applied ? ": landed" : ": refused", 1),
            "remap" => (IntegrityAlertKind.PageTable, idt, applied ? ": landed, put back" : ": refused", applied ? 2 : 1), // audit: the entry is put back, a second write
            "dma" => (IntegrityAlertKind.ProtectedPage, Symbol(DesktopGuest.IntegrityDriverSymbol) + IntegrityDriverEmitter.SpareOffset, applied ? ": landed" : ": refused, the GPU restarts", 1),
            _ => throw new ArgumentOutOfRangeException(nameof(attack)),
        };
        Assert.StartsWith($"attack {attack}: ", line, StringComparison.Ordinal);
        Assert.EndsWith(suffix, line, StringComparison.Ordinal);
        var alerts = desktop.Integrity.Alerts;
        Assert.Equal(count, alerts.Count);
        var alert = alerts[0];
        Assert.Equal((kind, at, ProtectionAction.Refuse, applied), (alert.Kind, alert.Virtual, alert.Action, alert.Applied));
        Assert.All(alerts, a => Assert.Equal(applied, a.Applied));
        if (attack == "dma")
        {
            Assert.Equal("VirtioGpu", alert.Device);
            if (!applied)
                await desktop.WaitAsync(() => desktop.Serial.Contains("virtio-gpu needs a reset", StringComparison.Ordinal), "the GPU's restart");
        }
        else
        {
            Assert.Equal((0, (string?)null), (alert.Vcpu, alert.Device));
        }
        if (attack == "remap")
            Assert.Equal(GuestPageTables.KernelEntry(idt), alert.Physical);

        await desktop.RepaintAsync(s_after);
        await desktop.TypeAsync("still here");
        Assert.Equal(count, desktop.Integrity.Alerts.Count);
        Assert.True(desktop.Machine.Devices.Gpu.Capture() is { Width: 1024, Height: 768 });
    }

    [Fact]
    public async Task With_integrity_off_the_desktop_runs_unprotected()
    {
        using var desktop = await IntegrityDesktop.BootAsync(engine, IntegrityLevel.Off);

        Assert.Contains("integrity: off\n", desktop.Serial, StringComparison.Ordinal);
        Assert.Null(desktop.Integrity.Driver);
        Assert.Equal(IntegrityResults.Disabled, desktop.Machine.Memory.Read<uint>(Symbol(DesktopGuest.IntegrityStatusSymbol)));
        Assert.Equal("attack idt: write to IDT gate 0xF0: landed", await desktop.RunCommandAsync("attack idt"));
        await desktop.RepaintAsync(s_after);
        await desktop.TypeAsync("typed");
        Assert.Empty(desktop.Integrity.Alerts);
        Assert.Equal(0, desktop.Machine.Tracer.TracedPageCount);
    }
}
