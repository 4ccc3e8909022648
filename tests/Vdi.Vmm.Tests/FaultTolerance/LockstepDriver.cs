using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>The fault-tolerance tests' desktop, and what they do to a <see cref="Lockstep"/>: type, wait, pause both, compare.</summary>
internal static class LockstepDriver
{
    public static Vmm.Machine.Machine Desktop() => MachineBuilder.Build(new MachineConfig
    {
        Image = DesktopGuest.Build(), MemoryMiB = 128, Engine = EngineChoice.Software, Display = new(1024, 768, 96),
    });

    /// <summary>The desktop on KVM, in a small mode (a KVM that emulates every instruction paints slowly); fails naming the device without one.</summary>
    public static Vmm.Machine.Machine KvmDesktop() => Machine.KvmMachines.Build(MachineConfigFor(EngineChoice.Kvm));

    private static MachineConfig MachineConfigFor(EngineChoice engine) => new()
    {
        Image = DesktopGuest.Build(), MemoryMiB = 128, Engine = engine, Display = new(640, 480, 96),
    };

    public static async Task TypeAsync(Lockstep lockstep, string text)
    {
        foreach (var c in text)
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out _));
            lockstep.Submit(new KeyInput(code, KeyAction.Press));
            lockstep.Submit(new KeyInput(code, KeyAction.Release));
            await Task.Delay(20);
        }
    }

    public static async Task UntilTypedAsync(Vmm.Machine.Machine machine, string text, int seconds = 30)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !DesktopText.Read(machine.Config.Image, machine.Memory).EndsWith(text, StringComparison.Ordinal); await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, $"the primary shows '{DesktopText.Read(machine.Config.Image, machine.Memory)}'");
    }

    /// <summary>Pauses the primary, lets the secondary catch up to its count and pauses it; returns the count.</summary>
    public static async Task<long> PauseBothAsync(Lockstep lockstep)
    {
        Assert.True(lockstep.Primary.PauseAll(TimeSpan.FromSeconds(10)));
        lockstep.Pump();
        var at = lockstep.Primary.JournalPosition!.Value;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); lockstep.Secondary.JournalPosition < at; await Task.Delay(10))
            Assert.True(DateTime.UtcNow < deadline, $"the secondary is at {lockstep.Secondary.JournalPosition} of {at}; {lockstep.Secondary.State}, {lockstep.Secondary.Completion.Status}");
        Assert.True(lockstep.Secondary.PauseAll(TimeSpan.FromSeconds(10)));
        lockstep.Pump();
        return at;
    }

    public static List<ulong> DifferingPages(Vmm.Machine.Machine a, Vmm.Machine.Machine b)
    {
        var (pa, pb) = (new byte[4096], new byte[4096]);
        var differing = new List<ulong>();
        for (ulong page = 0; page < a.Config.MemoryBytes; page += 4096)
        {
            Assert.True(a.Memory.TryRead(page, pa) && b.Memory.TryRead(page, pb));
            if (!pa.AsSpan().SequenceEqual(pb))
                differing.Add(page);
        }
        return differing;
    }
}
