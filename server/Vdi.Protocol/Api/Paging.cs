namespace Vdi.Protocol;

/// <summary>
/// How the list endpoints (<c>GET /api/sessions</c>, <c>GET /api/audit</c>) page: <c>?page=1&amp;pageSize=50</c>,
/// newest first, an optional text filter <c>q</c>; the body is the page's items and <see cref="TotalCountHeader"/>
/// carries how many items match the filter in all.
/// </summary>
public static class Paging
{
    public const int DefaultPageSize = 50;

    public const int MaxPageSize = 200;

    /// <summary>Longest text filter <c>q</c> accepted.</summary>
    public const int MaxFilterLength = 100;

    /// <summary>The response header with the number of items matching the filter, over all pages.</summary>
    public const string TotalCountHeader = "X-Total-Count";
}
