using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Benchmarks;

/// <summary>
/// What a desktop does between two frames: paints into the framebuffer and says which rectangle it
/// flushed. Every scene starts from the same text-like desktop with a terminal window on it.
/// </summary>
internal abstract class Scene
{
    public const int Width = 1920, Height = 1080, Stride = Width * 4;

    /// <summary>The terminal window: 120 columns x 50 rows of 12x16 glyphs, deliberately off the 64 px grid.</summary>
    public static readonly GpuRect Terminal = new(200, 120, 1440, 800);

    public abstract string Name { get; }

    public abstract string Description { get; }

    public virtual void Setup(byte[] pixels)
    {
        Pixels.Text(pixels, Stride, new GpuRect(0, 0, Width, Height), seed: 1);
        Pixels.Text(pixels, Stride, Terminal, seed: 2, Pixels.GlyphWidth, Pixels.GlyphHeight);
    }

    /// <summary>Paints frame <paramref name="frame"/> and returns the flushed rectangle.</summary>
    public abstract GpuRect Step(byte[] pixels, int frame);

    public static Scene[] All() => [new Typing(), new Motion(), new Repaint(), new Pages(), new Scroll(), new Dialog()];

    private sealed class Typing : Scene
    {
        private readonly Random _random = new(3);

        public override string Name => "typing";

        public override string Description => "one 12x16 glyph per frame in the terminal";

        public override GpuRect Step(byte[] pixels, int frame)
        {
            var columns = Terminal.Width / Pixels.GlyphWidth;
            var rows = Terminal.Height / Pixels.GlyphHeight;
            var x = Terminal.X + (frame % columns * Pixels.GlyphWidth);
            var y = Terminal.Y + (frame / columns % rows * Pixels.GlyphHeight);
            Pixels.Glyph(pixels, Stride, x, y, Pixels.GlyphWidth, Pixels.GlyphHeight, _random);
            return new GpuRect(x, y, Pixels.GlyphWidth, Pixels.GlyphHeight);
        }
    }

    private sealed class Motion : Scene
    {
        private static readonly GpuRect s_quadrant = new(Width / 2, Height / 2, Width / 2, Height / 2);

        public override string Name => "motion";

        public override string Description => "bottom-right quadrant (960x540) of moving colour bands every frame";

        public override GpuRect Step(byte[] pixels, int frame)
        {
            Pixels.Bands(pixels, Stride, s_quadrant, frame);
            return s_quadrant;
        }
    }

    private sealed class Repaint : Scene
    {
        private readonly Random _random = new(4);

        public override string Name => "repaint";

        public override string Description => "full-screen flush of the same desktop, only its clock changed";

        public override GpuRect Step(byte[] pixels, int frame)
        {
            for (var i = 0; i < 8; i++)
                Pixels.Glyph(pixels, Stride, Width - 112 + (i * Pixels.GlyphWidth), 0, Pixels.GlyphWidth, Pixels.GlyphHeight, _random);
            return new GpuRect(0, 0, Width, Height);
        }
    }

    private sealed class Pages : Scene
    {
        private const int Count = 8;
        private readonly byte[][] _pages = new byte[Count][];

        public override string Name => "page";

        public override string Description => $"full-screen flush of a new text page each frame ({Count} pages in turn)";

        public override void Setup(byte[] pixels)
        {
            base.Setup(pixels);
            for (var i = 0; i < Count; i++)
            {
                _pages[i] = new byte[pixels.Length];
                Pixels.Text(_pages[i], Stride, new GpuRect(0, 0, Width, Height), seed: 100 + i);
            }
        }

        public override GpuRect Step(byte[] pixels, int frame)
        {
            _pages[frame % Count].CopyTo(pixels, 0);
            return new GpuRect(0, 0, Width, Height);
        }
    }

    private sealed class Scroll : Scene
    {
        private readonly Random _random = new(5);

        public override string Name => "scroll";

        public override string Description => "terminal (1440x800) scrolls up one 16 px text row per frame";

        public override GpuRect Step(byte[] pixels, int frame)
        {
            var t = Terminal;
            for (var y = t.Y; y < t.Y + t.Height - Pixels.GlyphHeight; y++)
                pixels.AsSpan(((y + Pixels.GlyphHeight) * Stride) + (t.X * 4), t.Width * 4).CopyTo(pixels.AsSpan((y * Stride) + (t.X * 4)));
            var line = t.Y + t.Height - Pixels.GlyphHeight;
            for (var x = t.X; x + Pixels.GlyphWidth <= t.X + t.Width; x += Pixels.GlyphWidth)
            {
                if (_random.Next(4) == 0)
                    Pixels.Fill(pixels, Stride, new GpuRect(x, line, Pixels.GlyphWidth, Pixels.GlyphHeight), 0xFFFF_FFFF);
                else
                    Pixels.Glyph(pixels, Stride, x, line, Pixels.GlyphWidth, Pixels.GlyphHeight, _random);
            }
            return t;
        }
    }

    private sealed class Dialog : Scene
    {
        private static readonly GpuRect s_box = new(640, 340, 640, 400);
        private byte[] _background = [];
        private byte[] _dialog = [];

        public override string Name => "dialog";

        public override string Description => "a 640x400 dialog opens and closes in turn over the desktop";

        public override void Setup(byte[] pixels)
        {
            base.Setup(pixels);
            _background = (byte[])pixels.Clone();
            _dialog = (byte[])pixels.Clone();
            Pixels.Fill(_dialog, Stride, s_box, 0xFF50_5050);
            Pixels.Fill(_dialog, Stride, new GpuRect(s_box.X + 2, s_box.Y + 2, s_box.Width - 4, 28), 0xFF30_60A0);
            Pixels.Text(_dialog, Stride, new GpuRect(s_box.X + 2, s_box.Y + 32, s_box.Width - 4, s_box.Height - 34), seed: 6);
        }

        public override GpuRect Step(byte[] pixels, int frame)
        {
            Pixels.Copy(frame % 2 == 0 ? _dialog : _background, pixels, Stride, s_box);
            return s_box;
        }
    }
}
