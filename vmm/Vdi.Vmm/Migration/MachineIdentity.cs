using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Vdi.Vmm.Migration;

/// <summary>
/// What a machine must be to receive another's memory and state: the same RAM size, vCPU count and guest image (by
/// SHA-256 of its bytes). The <c>Hello</c> message and a snapshot file's header carry it; the engine the source ran
/// on is told, not required — a state restores on either engine.
/// </summary>
public sealed record MachineIdentity(ulong MemoryBytes, int Vcpus, string ImageName, byte[] ImageSha256, string Engine)
{
    public const ushort Version = 1;
    public const int MaxBytes = 512;
    private const int MaxText = 128;

    public static ReadOnlySpan<byte> Magic => "VDIM"u8;

    public static MachineIdentity Of(Machine.Machine machine) => new(
        machine.Config.MemoryBytes, machine.Config.Vcpus, machine.Config.Image.Name, SHA256.HashData(machine.Config.Image.Bytes),
        machine.Engine.Engine.ToString());

    /// <summary>Null when <paramref name="machine"/> can take this identity's memory and state, else why not.</summary>
    public string? Mismatch(Machine.Machine machine)
    {
        var own = Of(machine);
        if (own.MemoryBytes != MemoryBytes)
            return $"the source has {MemoryBytes >> 20} MiB of RAM, this machine {own.MemoryBytes >> 20} MiB";
        if (own.Vcpus != Vcpus)
            return $"the source has {Vcpus} vCPU(s), this machine {own.Vcpus}";
        if (!own.ImageSha256.AsSpan().SequenceEqual(ImageSha256))
            return $"the source runs image '{ImageName}' ({Convert.ToHexString(ImageSha256)[..16]}…), this machine '{own.ImageName}' ({Convert.ToHexString(own.ImageSha256)[..16]}…)";
        return null;
    }

    public byte[] ToBytes()
    {
        var name = Encoding.UTF8.GetBytes(ImageName);
        var engine = Encoding.UTF8.GetBytes(Engine);
        if (name.Length > MaxText || engine.Length > MaxText)
            throw new ArgumentException("an image or engine name over 128 bytes");
        var bytes = new byte[4 + 2 + 2 + 4 + 8 + 32 + 1 + name.Length + 1 + engine.Length];
        var s = bytes.AsSpan();
        Magic.CopyTo(s);
        BinaryPrimitives.WriteUInt16LittleEndian(s[4..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], (uint)Vcpus);
        BinaryPrimitives.WriteUInt64LittleEndian(s[12..], MemoryBytes);
        ImageSha256.CopyTo(s[20..]);
        s[52] = (byte)name.Length;
        name.CopyTo(s[53..]);
        s[53 + name.Length] = (byte)engine.Length;
        engine.CopyTo(s[(54 + name.Length)..]);
        return bytes;
    }

    public static MachineIdentity Parse(ReadOnlySpan<byte> s)
    {
        if (s.Length < 54 || !s[..4].SequenceEqual(Magic))
            throw new MigrationException("the stream does not start with a machine identity (VDIM)");
        var version = BinaryPrimitives.ReadUInt16LittleEndian(s[4..]);
        if (version != Version)
            throw new MigrationException($"machine identity version {version} is not {Version}, the one this VMM reads");
        var vcpus = BinaryPrimitives.ReadUInt32LittleEndian(s[8..]);
        var memory = BinaryPrimitives.ReadUInt64LittleEndian(s[12..]);
        if (vcpus is 0 or > 256 || memory == 0 || memory % MigrationWire.PageSize != 0 || memory > 1UL << 40)
            throw new MigrationException($"a machine identity with {vcpus} vCPU(s) and {memory} bytes of RAM");
        var sha = s[20..52].ToArray();
        var nameLength = s[52];
        if (s.Length < 54 + nameLength)
            throw new MigrationException("a machine identity cut inside its image name");
        var name = Encoding.UTF8.GetString(s.Slice(53, nameLength));
        var engineLength = s[53 + nameLength];
        if (s.Length != 54 + nameLength + engineLength)
            throw new MigrationException("a machine identity of the wrong length");
        var engine = Encoding.UTF8.GetString(s.Slice(54 + nameLength, engineLength));
        return new MachineIdentity(memory, (int)vcpus, name, sha, engine);
    }
}
