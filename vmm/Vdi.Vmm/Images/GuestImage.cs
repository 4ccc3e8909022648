namespace Vdi.Vmm.Images;

/// <summary>
/// A guest program ready to be copied into guest RAM: <paramref name="Bytes"/> go at
/// <paramref name="LoadAddress"/> and every vCPU starts at <paramref name="EntryPoint"/>.
/// </summary>
/// <param name="Name">Short name for logs and benchmarks.</param>
/// <param name="LoadAddress">Guest-physical (= identity-mapped virtual) address of <c>Bytes[0]</c>.</param>
/// <param name="EntryPoint">Guest address of the first instruction.</param>
/// <param name="Bytes">Code followed by data.</param>
/// <param name="Symbols">Named guest addresses of data inside the image (for example <c>counter</c>).</param>
public sealed record GuestImage(
    string Name,
    ulong LoadAddress,
    ulong EntryPoint,
    byte[] Bytes,
    IReadOnlyDictionary<string, ulong> Symbols)
{
    /// <summary>First guest address past the image.</summary>
    public ulong EndAddress => LoadAddress + (ulong)Bytes.Length;

    /// <summary>Guest address of a symbol; throws <see cref="KeyNotFoundException"/> naming it when absent.</summary>
    public ulong Symbol(string name) =>
        Symbols.TryGetValue(name, out var address)
            ? address
            : throw new KeyNotFoundException($"Guest image '{Name}' has no symbol '{name}'.");
}
