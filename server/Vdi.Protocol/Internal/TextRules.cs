using System.Globalization;

namespace Vdi.Protocol.Internal;

/// <summary>Rules for short human-readable names (desktop, user and client names) shown in the UI.</summary>
internal static class TextRules
{
    /// <summary>
    /// Null when <paramref name="value"/> is 1..<paramref name="maxLength"/> characters of printable
    /// text, else the message for <paramref name="field"/>. Printable excludes control and format
    /// characters (no bidi overrides that make one name pass for another), line breaks, unassigned
    /// code points, unpaired surrogates, and leading or trailing white space.
    /// </summary>
    /// <param name="qualifier">Appended to the rule, e.g. " when given".</param>
    public static ValidationError? CheckPrintable(string field, string? value, int maxLength, string qualifier = "")
    {
        var reason = Problem(value, maxLength);
        return reason is null
            ? null
            : new ValidationError(field, Invariant.Format($"{field} must be 1 to {maxLength} printable characters{qualifier} ({reason})"));
    }

    private static string? Problem(string? value, int maxLength)
    {
        if (string.IsNullOrEmpty(value))
            return "was empty";
        if (value.Length > maxLength)
            return Invariant.Format($"was {value.Length} characters");
        if (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))
            return "starts or ends with white space";

        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }
            if (!IsPrintable(value[i]))
                return Invariant.Format($"character {i + 1} is U+{(int)value[i]:X4}");
        }
        return null;
    }

    private static bool IsPrintable(char c) => CharUnicodeInfo.GetUnicodeCategory(c) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.OtherNotAssigned => false,
        _ => true,
    };
}
