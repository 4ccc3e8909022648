using System.Buffers.Binary;

namespace Vdi.Guest.Desktop;

/// <summary>
/// The pointer's arrow, an original design: <c>#</c> black outline, <c>o</c> white fill, space transparent; the hot
/// spot is the top-left pixel. <see cref="Build"/> gives the B8G8R8A8 pixels (rows packed) the guest copies into the
/// top-left corner of its 64×64 cursor image.
/// </summary>
internal static class CursorArrow
{
    public const int Width = 12;
    public const int Height = 19;

    private static readonly string[] s_rows =
    [
        "#           ",
        "##          ",
        "#o#         ",
        "#oo#        ",
        "#ooo#       ",
        "#oooo#      ",
        "#ooooo#     ",
        "#oooooo#    ",
        "#ooooooo#   ",
        "#oooooooo#  ",
        "#ooooooooo# ",
        "#oooooo#####",
        "#ooo#oo#    ",
        "#oo# #oo#   ",
        "#o#  #oo#   ",
        "##    #oo#  ",
        "#     #oo#  ",
        "       #oo# ",
        "        ##  ",
    ];

    public static byte[] Build()
    {
        var pixels = new byte[Width * Height * 4];
        for (var y = 0; y < Height; y++)
        {
            for (var x = 0; x < Width; x++)
            {
                var argb = s_rows[y][x] switch
                {
                    '#' => 0xFF00_0000u,
                    'o' => 0xFFFF_FFFFu,
                    _ => 0u,
                };
                BinaryPrimitives.WriteUInt32LittleEndian(pixels.AsSpan(((y * Width) + x) * 4), argb);
            }
        }
        return pixels;
    }
}
