using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;

namespace Vdi.Server.Api;

/// <summary>
/// The paging and text filter of a list endpoint, read from the query string by hand so that a bad value is a 400
/// naming the parameter (model binding would only say that binding failed).
/// </summary>
public sealed record ListQuery(int Page, int PageSize, string? Filter)
{
    /// <summary>Reads <c>page</c>, <c>pageSize</c> and <c>q</c>; problems are added to <paramref name="errors"/>.</summary>
    public static ListQuery Parse(IQueryCollection query, List<ValidationError> errors)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(errors);
        var page = Whole(query, "page", 1, 1, int.MaxValue, "a whole number from 1", errors);
        var pageSize = Whole(query, "pageSize", Paging.DefaultPageSize, 1, Paging.MaxPageSize, $"a whole number from 1 to {Paging.MaxPageSize}", errors);
        var filter = Single(query, "q", errors)?.Trim();
        if (filter is { Length: > Paging.MaxFilterLength })
            errors.Add(new ValidationError("q", $"q must be at most {Paging.MaxFilterLength} characters, not {filter.Length}"));
        return new ListQuery(page, pageSize, string.IsNullOrEmpty(filter) ? null : filter);
    }

    /// <summary>Reads an optional <c>true</c>/<c>false</c> parameter.</summary>
    public static bool? Flag(IQueryCollection query, string name, List<ValidationError> errors)
    {
        ArgumentNullException.ThrowIfNull(query);
        var text = Single(query, name, errors);
        if (text is null)
            return null;
        if (bool.TryParse(text, out var value))
            return value;
        errors.Add(new ValidationError(name, $"{name} must be true or false, not '{text}'"));
        return null;
    }

    /// <summary>The escape character of <see cref="LikePattern"/>, to pass to <c>EF.Functions.Like</c>.</summary>
    public const string LikeEscape = @"\";

    /// <summary>
    /// A SQL LIKE pattern matching <see cref="Filter"/> anywhere, its wildcards escaped with <c>\</c>. Callers compare
    /// <c>lower(column) LIKE lower(pattern)</c>: LIKE ignores case on SQLite but not on PostgreSQL, and both sides lowered
    /// by the same database match in any case on both.
    /// </summary>
    public string? LikePattern => Filter is null ? null : $"%{Filter.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal)}%";

    /// <summary>This page of an ordered query, and how many items the query has in all; both run in the database.</summary>
    public async Task<(List<T> Items, int Total)> PageAsync<T>(IQueryable<T> ordered)
    {
        var total = await ordered.CountAsync().ConfigureAwait(false);
        var skip = (long)(Page - 1) * PageSize;
        if (skip >= total)
            return ([], total);
        var items = await ordered.Skip((int)skip).Take(PageSize).ToListAsync().ConfigureAwait(false);
        return (items, total);
    }

    /// <summary>The page's items as the body, the total in <see cref="Paging.TotalCountHeader"/>.</summary>
    public static IResult Ok<T>(HttpResponse response, IReadOnlyList<T> items, int total)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.Headers[Paging.TotalCountHeader] = total.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Ok(items);
    }

    private static int Whole(IQueryCollection query, string name, int fallback, int min, int max, string expected, List<ValidationError> errors)
    {
        var text = Single(query, name, errors);
        if (text is null)
            return fallback;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
            return value;
        errors.Add(new ValidationError(name, $"{name} must be {expected}, not '{text}'"));
        return fallback;
    }

    private static string? Single(IQueryCollection query, string name, List<ValidationError> errors)
    {
        if (!query.TryGetValue(name, out var values) || values.Count == 0)
            return null;
        if (values.Count > 1)
        {
            errors.Add(new ValidationError(name, $"{name} may be given once, not {values.Count} times"));
            return null;
        }
        return values[0];
    }
}
