using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class ChangeHistoryTests
{
    private static readonly GpuRect[] s_none = [];

    [Fact]
    public void A_cell_is_fast_after_changing_in_three_of_the_last_four_frames()
    {
        var h = new ChangeHistory(cellSize: 64);
        GpuRect[] video = [new GpuRect(64, 64, 64, 64)];

        h.Record(640, 480, video);
        h.Record(640, 480, s_none);
        h.Record(640, 480, video);
        Assert.False(h.IsFastChanging(70, 70));

        h.Record(640, 480, video);
        Assert.True(h.IsFastChanging(70, 70));
        Assert.False(h.IsFastChanging(10, 10));
        Assert.Equal(1.0, h.FastShare(new GpuRect(64, 64, 64, 64)));
        Assert.Equal(0.25, h.FastShare(new GpuRect(0, 0, 128, 128)));

        h.Record(640, 480, s_none);
        h.Record(640, 480, s_none);
        Assert.False(h.IsFastChanging(70, 70));
    }

    [Fact]
    public void A_new_screen_size_forgets_the_history()
    {
        var h = new ChangeHistory();
        GpuRect[] all = [new GpuRect(0, 0, 640, 480)];
        for (var i = 0; i < 4; i++)
            h.Record(640, 480, all);
        Assert.True(h.IsFastChanging(0, 0));

        h.Record(800, 600, s_none);

        Assert.False(h.IsFastChanging(0, 0));
        Assert.Equal((13, 10), (h.Columns, h.Rows));
    }
}
