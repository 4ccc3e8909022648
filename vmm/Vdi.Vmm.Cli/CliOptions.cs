using System.Globalization;

namespace Vdi.Vmm.Cli;

/// <summary>`--name value` and `--flag` options; unknown or malformed options are an error naming them.</summary>
internal sealed class CliOptions
{
    private readonly Dictionary<string, string?> _values;

    private CliOptions(Dictionary<string, string?> values) => _values = values;

    public static CliOptions Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                throw new ArgumentException($"unexpected argument '{arg}'");
            var takesValue = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            values[arg[2..]] = takesValue ? args[++i] : null;
        }
        return new CliOptions(values);
    }

    public int Int(string name, int defaultValue, int min, int max)
    {
        if (!_values.Remove(name, out var text))
            return defaultValue;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new ArgumentException($"--{name} must be a whole number from {min} to {max}, not '{text}'");
        return value;
    }

    public bool Flag(string name) => _values.Remove(name);

    /// <summary>`--engine auto|kvm|software`: what runs the guest.</summary>
    public Execution.EngineChoice Engine(Execution.EngineChoice defaultValue) => Choice("engine", defaultValue, "auto, kvm or software");

    /// <summary>`--integrity off|audit|enforce`: how the guest's integrity driver's protections are treated.</summary>
    public Integrity.IntegrityLevel Integrity(Integrity.IntegrityLevel defaultValue) => Choice("integrity", defaultValue, "off, audit or enforce");

    /// <summary>An option naming one of <typeparamref name="T"/>'s values (any case, never a number).</summary>
    private T Choice<T>(string name, T defaultValue, string choices)
        where T : struct, Enum
    {
        if (Text(name) is not { } text)
            return defaultValue;
        return Enum.TryParse<T>(text, ignoreCase: true, out var value) && Enum.IsDefined(value) && !int.TryParse(text, out _)
            ? value
            : throw new ArgumentException($"--{name} must be {choices}, not '{text}'");
    }

    public string? Text(string name)
    {
        if (!_values.Remove(name, out var text))
            return null;
        return text ?? throw new ArgumentException($"--{name} needs a value");
    }

    /// <summary>Call after reading every option: anything left was not understood.</summary>
    public void EnsureConsumed()
    {
        if (_values.Count > 0)
            throw new ArgumentException($"unknown option --{_values.Keys.First()}");
    }
}
