using System.Diagnostics;
using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Tests.Devices;

public sealed class PowerDebugPortTests
{
    private const int PowerOffOffset = PortMap.PowerOff - PortMap.PowerBase;
    private const int MarkerOffset = PortMap.BootMarker - PortMap.PowerBase;
    private const int RequestOffset = PortMap.HostRequest - PortMap.PowerBase;

    private readonly List<int> _exitCodes = [];
    private readonly RecordingInterruptLine _line = new();
    private readonly long _created = Stopwatch.GetTimestamp();
    private readonly PowerDebugPort _port;

    public PowerDebugPortTests() => _port = new PowerDebugPort(_created, _exitCodes.Add, _line);

    private static BusAccess At(int offset) => new((ulong)offset, PortMap.PowerBase + (ulong)offset, 0);

    [Theory]
    [InlineData(new byte[] { 0x2A }, 42)]
    [InlineData(new byte[] { 0xFF }, 255)]
    [InlineData(new byte[] { 0x34, 0x12 }, 0x1234)]
    [InlineData(new byte[] { 0x78, 0x56, 0x34, 0x12 }, 0x1234_5678)]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, -1)]
    public void PowerOffPassesTheLittleEndianExitCode(byte[] data, int expected)
    {
        Assert.True(_port.Write(At(PowerOffOffset), data));

        Assert.Equal([expected], _exitCodes);
    }

    [Fact]
    public void MarkersAreKeptInOrderWithMonotonicTimestamps()
    {
        var reached = new List<BootMarker>();
        _port.MarkerReached += reached.Add;

        foreach (var value in new byte[] { 1, 2, 2, 0xFE })
        {
            Assert.True(_port.Write(At(MarkerOffset), [value]));
            Thread.Sleep(1);
        }

        var markers = _port.Markers;
        Assert.Equal(new byte[] { 1, 2, 2, 0xFE }, markers.Select(m => m.Value));
        Assert.Equal(markers, reached);
        Assert.True(markers[0].SinceCreation >= TimeSpan.Zero);
        for (var i = 1; i < markers.Count; i++)
            Assert.True(markers[i].SinceCreation > markers[i - 1].SinceCreation, $"marker {i} is not later than marker {i - 1}");
        Assert.True(markers[^1].SinceCreation <= Stopwatch.GetElapsedTime(_created));
        Assert.Empty(_exitCodes);
    }

    [Fact]
    public void MarkersPastTheFirst256StillRaiseTheEventButAreNotKept()
    {
        var events = 0;
        _port.MarkerReached += _ => events++;

        for (var i = 0; i < 300; i++)
            _port.Write(At(MarkerOffset), [(byte)i]);

        Assert.Equal(300, events);
        Assert.Equal(256, _port.Markers.Count);
        Assert.Equal(255, _port.Markers[^1].Value);
    }

    [Fact]
    public void HostRequestIsReadableAfterPostRequestWhichPulsesTheLine()
    {
        Span<byte> data = [0xEE];
        Assert.True(_port.Read(At(RequestOffset), data));
        Assert.Equal(PortMap.HostRequestNone, data[0]);
        Assert.Empty(_line.Levels);

        _port.PostRequest(PortMap.HostRequestPowerOff);

        Assert.Equal([true, false], _line.Levels);
        Assert.True(_port.Read(At(RequestOffset), data));
        Assert.Equal(PortMap.HostRequestPowerOff, data[0]);
        Assert.Empty(_exitCodes); // a request, not a power-off
    }

    [Fact]
    public void HostRequestsQueueUpAndEachReadTakesTheOldest()
    {
        Assert.True(_port.PostRequest(PortMap.HostRequestMotionOn));
        Assert.True(_port.PostRequest(PortMap.HostRequestMotionOff));
        Assert.True(_port.PostRequest(PortMap.HostRequestPowerOff));
        Assert.Equal(3, _port.PendingRequests);
        Assert.Equal([true, false, true, false, true, false], _line.Levels);

        Span<byte> data = [0];
        var read = new List<byte>();
        for (var i = 0; i < 4; i++)
        {
            Assert.True(_port.Read(At(RequestOffset), data));
            read.Add(data[0]);
        }
        Assert.Equal([PortMap.HostRequestMotionOn, PortMap.HostRequestMotionOff, PortMap.HostRequestPowerOff, PortMap.HostRequestNone], read);
        Assert.Equal(0, _port.PendingRequests);
    }

    [Fact]
    public void AFullQueueRefusesNewRequestsWithoutRaisingTheLine()
    {
        for (var i = 0; i < PortMap.HostRequestQueueLength; i++)
            Assert.True(_port.PostRequest(PortMap.HostRequestMotionOn));
        var pulses = _line.Levels.Count;

        Assert.False(_port.PostRequest(PortMap.HostRequestPowerOff));
        Assert.Equal(pulses, _line.Levels.Count);
        Assert.Equal(PortMap.HostRequestQueueLength, _port.PendingRequests);

        Span<byte> data = [0];
        Assert.True(_port.Read(At(RequestOffset), data));
        Assert.True(_port.PostRequest(PortMap.HostRequestPowerOff)); // a read made room
    }

    [Theory]
    [InlineData(PowerOffOffset)]
    [InlineData(MarkerOffset)]
    [InlineData(1)]
    [InlineData(12)]
    public void ReadsOtherThanTheRequestMailboxAreRefused(int offset) =>
        Assert.False(_port.Read(At(offset), new byte[1]));

    [Fact]
    public void WiderReadsOfTheMailboxAreRefused() => Assert.False(_port.Read(At(RequestOffset), new byte[2]));

    [Theory]
    [InlineData(RequestOffset, 1)]
    [InlineData(MarkerOffset, 2)]
    [InlineData(2, 1)]
    [InlineData(15, 1)]
    public void WritesToUnknownOffsetsOrWithTheWrongSizeAreRefused(int offset, int size)
    {
        Assert.False(_port.Write(At(offset), new byte[size]));

        Assert.Empty(_exitCodes);
        Assert.Empty(_port.Markers);
    }

    [Fact]
    public void OnTheBusThePortAnswersAtItsStandardAddresses()
    {
        var log = new AccessLog();
        var bus = new Bus(AccessSpace.Pio, log);
        bus.Register(PortMap.PowerBase, PortMap.PowerLength, _port);
        _port.PostRequest(PortMap.HostRequestPowerOff);

        Span<byte> request = [0];
        Assert.True(bus.Read(PortMap.HostRequest, 0, request));
        Assert.True(bus.Write(PortMap.BootMarker, 0, [7]));
        Assert.True(bus.Write(PortMap.PowerOff, 0, [3, 0]));

        Assert.Equal(PortMap.HostRequestPowerOff, request[0]);
        Assert.Equal(7, Assert.Single(_port.Markers).Value);
        Assert.Equal([3], _exitCodes);
        Assert.Equal(0, log.Total);
    }
}
