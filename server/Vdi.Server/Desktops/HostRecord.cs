using System.Text.Json;
using System.Text.Json.Serialization;
using Vdi.Vmm.Host;

namespace Vdi.Server.Desktops;

/// <summary>
/// What a broker writes in a desktop's host folder when it launches the host (<c>host.json</c>, mode 0600, replaced
/// atomically): the process (pid and start time, so a reused pid is told apart), its socket, the broker's data folder
/// (whose desktop it is: brokers sharing a host root leave each other's hosts alone) and when. A broker that starts
/// again finds its hosts by these records; a desktop that stops normally has its folder, record included, removed.
/// </summary>
internal sealed record HostRecord(int Pid, long StartTime, string SocketPath, string? Broker, DateTimeOffset WrittenAt)
{
    public const string FileName = "host.json";

    [JsonIgnore]
    public HostProcess Process => new(Pid, StartTime);

    /// <summary>Writes the record of <paramref name="host"/> into <paramref name="hostDirectory"/> (a temporary file renamed over the old one).</summary>
    public static HostRecord Write(string hostDirectory, HostProcess host, string socketPath, string? broker, DateTimeOffset now)
    {
        var record = new HostRecord(host.Pid, host.StartTime, socketPath, broker, now);
        var path = Path.Combine(hostDirectory, FileName);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(file, record, HostRecordJson.Default.HostRecord);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        return record;
    }

    /// <summary>The record in <paramref name="hostDirectory"/>, or null when there is none or it cannot be read.</summary>
    public static HostRecord? Read(string hostDirectory)
    {
        try
        {
            using var file = File.OpenRead(Path.Combine(hostDirectory, FileName));
            return JsonSerializer.Deserialize(file, HostRecordJson.Default.HostRecord) is { Pid: > 0, SocketPath.Length: > 0 } record ? record : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public static void Delete(string hostDirectory)
    {
        try
        {
            File.Delete(Path.Combine(hostDirectory, FileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}

[JsonSerializable(typeof(HostRecord))]
internal sealed partial class HostRecordJson : JsonSerializerContext;
