using System.Globalization;
using Vdi.Protocol;

namespace Vdi.WebClient.Transport;

/// <summary>Which page of a list endpoint to ask for, with its text filter.</summary>
public sealed record ListRequest(int Page = 1, int PageSize = 20, string? Filter = null)
{
    /// <summary>The query string's paging and filter parameters (without the leading <c>?</c>).</summary>
    public string Query
    {
        get
        {
            var query = string.Create(CultureInfo.InvariantCulture, $"page={Page}&pageSize={PageSize}");
            return string.IsNullOrWhiteSpace(Filter) ? query : $"{query}&q={Uri.EscapeDataString(Filter.Trim())}";
        }
    }
}

/// <summary>One page of a list and how many items match in all (the broker's <see cref="Paging.TotalCountHeader"/>).</summary>
public sealed record ListPage<T>(IReadOnlyList<T> Items, int Total, ListRequest Request)
{
    /// <summary>Pages the whole list has (at least one, so "page 1 of 1" reads right for an empty list).</summary>
    public int Pages => Math.Max(1, (Total + Request.PageSize - 1) / Request.PageSize);
}
