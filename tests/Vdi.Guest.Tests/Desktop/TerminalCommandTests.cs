using Vdi.Guest.Integrity;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Input;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>
/// Commands typed in the terminal, on the emulator's machine (no integrity monitor: the driver reports it unavailable and
/// every attack lands). Caught attacks: <see cref="Integrity.DesktopIntegrityTestsBase"/>.
/// </summary>
public sealed class TerminalCommandTests
{
    [Fact]
    public void A_line_that_is_exactly_a_command_runs_it_and_prints_what_it_did()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        Assert.Contains("integrity: unavailable\n", desktop.Machine.Serial, StringComparison.Ordinal);
        var target = DesktopHarness.Image.Symbol(Vdi.Guest.Desktop.DesktopGuest.AttackCodeTargetSymbol);
        Assert.Equal(0xCC, desktop.Machine.Memory.Read<byte>(target));

        Type(desktop, "attack code\n");

        Assert.Equal("attack code\nattack code: write to an unused byte of kernel code: landed\n", desktop.Text);
        Assert.Equal(AttackEmitter.CodeByteAfter, desktop.Machine.Memory.Read<byte>(target));
    }

    [Theory]
    [InlineData("attack code \n")]
    [InlineData("Attack code\n")]
    [InlineData("attack\n")]
    [InlineData("xattack idt\n")]
    [InlineData("attack code")] // no Enter yet
    public void Any_other_line_is_only_text(string typed)
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        Type(desktop, typed);
        Assert.Equal(typed, desktop.Text);
    }

    [Fact]
    public void A_command_on_a_later_line_runs_and_the_desktop_then_takes_typing()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        Type(desktop, "hello\nattack remap\nok");
        Assert.Equal("hello\nattack remap\nattack remap: point the IDT's page at a copy: landed, put back\nok", desktop.Text);
    }

    private static void Type(DesktopHarness desktop, string text)
    {
        Assert.Equal("", UsKeyboardLayout.Type(desktop.Machine.Devices.Keyboard, text));
        desktop.Machine.RunUntilIdle();
    }
}
