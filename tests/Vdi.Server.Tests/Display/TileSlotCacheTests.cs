using Vdi.Protocol;
using Vdi.Server.Display;

namespace Vdi.Server.Tests.Display;

public sealed class TileSlotCacheTests
{
    [Fact]
    public void A_miss_then_a_hit_on_the_same_hash()
    {
        var cache = new TileSlotCache(4);

        Assert.False(cache.TryUse(42, out _));
        var slot = cache.Add(42);

        Assert.True(cache.TryUse(42, out var hit));
        Assert.Equal(slot, hit);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Free_slots_are_handed_out_in_order_then_the_least_recently_used_is_reused()
    {
        var cache = new TileSlotCache(3);
        Assert.Equal([0, 1, 2], new[] { cache.Add(10), cache.Add(11), cache.Add(12) });
        Assert.Equal(0, cache.NextEviction);

        cache.TryUse(10, out _); // 11 is now the least recently used

        Assert.Equal(1, cache.NextEviction);
        Assert.Equal(1, cache.Add(13)); // 11's slot, reused
        Assert.False(cache.TryUse(11, out _));
        Assert.True(cache.TryUse(13, out var reused));
        Assert.Equal(1, reused);
        Assert.Equal(3, cache.Count);
    }

    [Fact]
    public void Adding_a_hash_already_kept_returns_its_slot_without_evicting()
    {
        var cache = new TileSlotCache(2);
        cache.Add(1);
        cache.Add(2);

        Assert.Equal(0, cache.Add(1));
        Assert.True(cache.TryUse(2, out var two));
        Assert.Equal(1, two);
    }

    [Fact]
    public void Eviction_order_is_deterministic_for_the_same_sequence()
    {
        static int[] Run()
        {
            var cache = new TileSlotCache(8);
            var random = new Random(7);
            var slots = new List<int>();
            for (var i = 0; i < 500; i++)
            {
                var hash = (ulong)random.Next(20);
                slots.Add(cache.TryUse(hash, out var slot) ? slot : cache.Add(hash) + 1000);
            }
            return [.. slots];
        }

        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Clear_starts_again_from_slot_zero()
    {
        var cache = new TileSlotCache(2);
        cache.Add(1);
        cache.Add(2);

        cache.Clear();

        Assert.Equal(0, cache.Count);
        Assert.False(cache.TryUse(1, out _));
        Assert.Equal(0, cache.Add(3));
    }

    [Fact]
    public void Capacity_is_limited_to_the_protocol_slots()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TileSlotCache(TileCache.Slots + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TileSlotCache(0));
        Assert.Equal(TileCache.Slots, new TileSlotCache().Capacity);
    }
}
