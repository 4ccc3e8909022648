using Vdi.Server.Display;

namespace Vdi.Server.Tests.Display;

public sealed class AdaptiveJpegQualityTests
{
    private static void Observe(AdaptiveJpegQuality quality, double ms, int times = 30)
    {
        for (var i = 0; i < times; i++)
            quality.Observe(TimeSpan.FromMilliseconds(ms));
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
        Observe(quality, 5); // the network's round trip: the baseline

        var seen = new List<int>();
        foreach (var lag in new[] { 15, 25, 35, 45, 55, 65, 200 })
        {
            Observe(quality, 5 + lag);
            seen.Add(quality.Quality);
        }

        Assert.Equal([90, 80, 70, 60, 50, 40, 30], seen);
    }

    [Fact]
    public void Quality_recovers_when_the_client_catches_up()
    {
        var quality = new AdaptiveJpegQuality();
        Observe(quality, 5);
        Observe(quality, 120);
        Assert.Equal(30, quality.Quality);

        Observe(quality, 5);

        Assert.Equal(90, quality.Quality);
    }

    [Fact]
    public void A_distant_but_fast_client_keeps_full_quality()
    {
        var quality = new AdaptiveJpegQuality();

        Observe(quality, 150, times: 100); // a long network path, every frame painted at once

        Assert.Equal(90, quality.Quality);
    }

    [Fact]
    public void One_slow_frame_does_not_drop_quality_to_the_floor()
    {
        var quality = new AdaptiveJpegQuality();
        Observe(quality, 5);

        quality.Observe(TimeSpan.FromMilliseconds(105));

        Assert.InRange(quality.Quality, 70, 90);
    }
}
