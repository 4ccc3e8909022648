using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;

namespace Vdi.Vmm.Tests.Machine;

/// <summary>
/// Input is never silently lost: a burst far larger than the guest reads at once (2,000 Shift presses and releases)
/// reaches the desktop whole, so text typed after it is exactly what was typed — in every run. On the software engine.
/// </summary>
public sealed class InputBurstTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task After_a_burst_of_2000_shift_presses_hello_reads_hello(int run)
    {
        _ = run;
        using var machine = KvmMachines.Build(DesktopGuest.Build(), memoryMiB: 512, engine: EngineChoice.Software);
        machine.Start();
        await KvmMachines.WaitForMarkerAsync(machine, Vmm.Devices.BootMarkers.Idle);
        await machine.Devices.Display.RequestAsync(new DisplayProperties(1280, 720), TimeSpan.FromSeconds(30));
        var keyboard = machine.Devices.Keyboard;

        for (var i = 0; i < 2000; i++)
        {
            Assert.True(keyboard.InjectKey(Evdev.KeyLeftShift, KeyAction.Press));
            Assert.True(keyboard.InjectKey(Evdev.KeyLeftShift, KeyAction.Release));
        }
        Assert.Equal("", UsKeyboardLayout.Type(keyboard, "hello"));

        string Text() => DesktopText.Read(machine.Config.Image, machine.Memory);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((keyboard.PendingEvents > 0 || !Text().EndsWith("hello", StringComparison.OrdinalIgnoreCase)) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.EndsWith("hello", Text(), StringComparison.Ordinal);
        Assert.Equal(0, keyboard.DroppedEvents);
    }
}
