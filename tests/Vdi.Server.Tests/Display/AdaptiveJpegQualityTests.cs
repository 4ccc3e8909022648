using Vdi.Server.Display;

namespace Vdi.Server.Tests.Display;

public sealed class AdaptiveJpegQualityTests
{
    private const long Small = 500, Large = 60_000;

    private static void Observe(AdaptiveJpegQuality quality, double ms, long bytes = Large, int times = 30)
    {
        for (var i = 0; i < times; i++)
            quality.Observe(TimeSpan.FromMilliseconds(ms), bytes);
    }

    [Fact]
    public void A_prompt_client_gets_the_highest_quality()
    {
        var quality = new AdaptiveJpegQuality();
        Assert.Equal(90, quality.Quality);

        Observe(quality, 4);

        Assert.Equal(90, quality.Quality);
    }

    [Fact]
    public void Quality_steps_down_by_ten_as_lag_rises_and_stops_at_thirty()
    {
        var quality = new AdaptiveJpegQuality();
        Observe(quality, 5, Small); // the network's latency, from small frames

        var seen = new List<int>();
        foreach (var lag in new[] { 15, 25, 35, 45, 55, 65, 200 })
        {
            Observe(quality, 5 + lag);
            seen.Add(quality.Quality);
        }

        Assert.Equal(5, quality.BaselineMs);
        Assert.Equal([90, 80, 70, 60, 50, 40, 30], seen);
    }

    [Fact]
    public void Quality_recovers_when_the_client_catches_up()
    {
        var quality = new AdaptiveJpegQuality();
        Observe(quality, 120);
        Assert.Equal(30, quality.Quality);

        Observe(quality, 5);

        Assert.Equal(90, quality.Quality);
    }

    [Fact]
    public void A_distant_but_fast_client_keeps_full_quality()
    {
        var quality = new AdaptiveJpegQuality();

        for (var i = 0; i < 100; i++)
        {
            quality.Observe(TimeSpan.FromMilliseconds(150), Small); // a long network path...
            quality.Observe(TimeSpan.FromMilliseconds(155), Large); // ...and big frames painted at once
        }

        Assert.Equal(150, quality.BaselineMs);
        Assert.Equal(90, quality.Quality);
    }

    [Fact]
    public void Without_small_frames_the_whole_round_trip_is_lag()
    {
        var quality = new AdaptiveJpegQuality();

        Observe(quality, 60); // only big frames, each acknowledged 60 ms later: a slow client

        Assert.Equal(0, quality.BaselineMs);
        Assert.Equal(50, quality.Quality);
    }

    [Fact]
    public void One_slow_frame_does_not_drop_quality_to_the_floor()
    {
        var quality = new AdaptiveJpegQuality();
        Observe(quality, 5, Small);

        quality.Observe(TimeSpan.FromMilliseconds(105), Large);

        Assert.InRange(quality.Quality, 70, 90);
    }

    [Fact]
    public void Reset_forgets_the_latency_and_the_lag()
    {
        var quality = new AdaptiveJpegQuality();
        Observe(quality, 40, Small);
        Observe(quality, 200);

        quality.Reset();

        Assert.Equal((0, 0, 90), (quality.BaselineMs, quality.LagMs, quality.Quality));
    }
}
