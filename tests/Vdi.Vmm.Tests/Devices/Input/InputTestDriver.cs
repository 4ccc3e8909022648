using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Tests.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Input;

/// <summary>The guest side of virtio-input on top of <see cref="VirtioTestDriver"/>: configuration selects, eventq buffers, statusq events.</summary>
internal sealed class InputTestDriver(VirtioTestDriver driver)
{
    private readonly Dictionary<uint, ulong> _eventBuffers = [];

    public VirtioTestDriver Driver => driver;

    /// <summary>Writes select/subsel and returns the payload (size bytes of <c>u</c>).</summary>
    public byte[] Select(byte select, byte subsel = 0)
    {
        driver.WriteConfig(0, [select, subsel]);
        var size = driver.ReadConfig(2, 1)[0];
        return driver.ReadConfig(8, size);
    }

    /// <summary>Posts <paramref name="count"/> writable 8-byte buffers on the eventq and notifies.</summary>
    public void PostEventBuffers(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var buffer = driver.Alloc(InputEvent.Size, 8);
            driver.Memory.Write(buffer, ulong.MaxValue); // so a missing write shows
            var head = driver.Submit(VirtioInputDevice.EventQueue, (buffer, InputEvent.Size, true));
            _eventBuffers[head] = buffer;
        }
        driver.Notify(VirtioInputDevice.EventQueue);
    }

    /// <summary>The events the device returned since the last call, in used-ring order.</summary>
    public IReadOnlyList<InputEvent> TakeEvents()
    {
        var events = new List<InputEvent>();
        foreach (var (id, length) in driver.TakeUsed(VirtioInputDevice.EventQueue))
        {
            Assert.Equal((uint)InputEvent.Size, length);
            Assert.True(_eventBuffers.Remove(id, out var buffer), $"used id {id} was not an event buffer");
            var bytes = new byte[InputEvent.Size];
            driver.Memory.Read(buffer, bytes);
            events.Add(InputEvent.Read(bytes));
        }
        return events;
    }

    /// <summary>Sends one event on the statusq, as Linux does for LED changes.</summary>
    public void SendStatus(InputEvent e)
    {
        var bytes = new byte[InputEvent.Size];
        e.WriteTo(bytes);
        var response = driver.Request(VirtioInputDevice.StatusQueue, bytes, 0);
        Assert.Empty(response);
    }

    public static InputEvent Key(ushort code, int value) => new(Evdev.EvKey, code, value);

    public static InputEvent Syn => InputEvent.SynReport;
}
