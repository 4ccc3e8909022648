using Vdi.Vmm.Devices.Input;

namespace Vdi.Vmm.Tests.Devices.Input;

public sealed class UsKeyboardLayoutTests
{
    [Theory]
    [InlineData('a', 30, false)]
    [InlineData('h', 35, false)]
    [InlineData('l', 38, false)]
    [InlineData('o', 24, false)]
    [InlineData('z', 44, false)]
    [InlineData('1', 2, false)]
    [InlineData('0', 11, false)]
    [InlineData('H', 35, true)]
    [InlineData('!', 2, true)]
    [InlineData(' ', 57, false)]
    [InlineData('\n', 28, false)]
    [InlineData('/', 53, false)]
    [InlineData('?', 53, true)]
    public void Characters_map_to_the_linux_key_codes_of_a_us_keyboard(char c, int code, bool shift)
    {
        Assert.True(UsKeyboardLayout.TryMap(c, out var actual, out var actualShift));
        Assert.Equal(((ushort)code, shift), (actual, actualShift));
    }

    [Fact]
    public void Characters_without_a_key_are_reported()
    {
        Assert.False(UsKeyboardLayout.TryMap('é', out _, out _));
        Assert.Equal("é€", UsKeyboardLayout.Type(new VirtioKeyboard(), "é€"));
    }
}
