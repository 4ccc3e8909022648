using Microsoft.AspNetCore.Components;
using Vdi.WebClient.Transport;

namespace Vdi.WebClient.Admin;

/// <summary>
/// A dashboard list shown a page at a time with a text filter. It keeps the admin's page, page size and filter across
/// refreshes (the dashboard calls <see cref="RefreshAsync"/> every few seconds); an answer that arrives after a newer
/// request was made is dropped, so typing in the filter never shows an older result last.
/// </summary>
public abstract class PagedList<T> : ComponentBase
{
    public const int DefaultPageSize = 20;

    private int _version;

    protected ListRequest Request { get; private set; } = new(1, DefaultPageSize);

    /// <summary>The page shown; null until the first answer.</summary>
    protected ListPage<T>? Current { get; private set; }

    /// <summary>Why the last refresh failed, until one succeeds.</summary>
    protected string? Error { get; private set; }

    /// <summary>The filter box's text; a new filter starts at the first page.</summary>
    protected string Filter
    {
        get => Request.Filter ?? "";
        set => Request = Request with { Filter = value, Page = 1 };
    }

    protected abstract Task<ListPage<T>> FetchAsync(ListRequest request);

    protected override Task OnInitializedAsync() => RefreshAsync();

    /// <summary>Loads the current page again with the current filter.</summary>
    public async Task RefreshAsync()
    {
        var version = ++_version;
        var request = Request;
        try
        {
            var page = await FetchAsync(request);
            if (version != _version)
                return;
            Error = null;
            if (page.Items.Count == 0 && request.Page > page.Pages)
            {
                // The list shrank under the admin's page (sessions ended, a filter narrowed): show its last page.
                Request = request with { Page = page.Pages };
                await RefreshAsync();
                return;
            }
            Current = page;
        }
        catch (Exception e) when (e is ApiException or HttpRequestException)
        {
            if (version != _version)
                return;
            Error = e is ApiException ? e.Message : $"Could not reach the broker: {e.Message}";
        }
        StateHasChanged();
    }

    protected Task FirstPageAsync()
    {
        Request = Request with { Page = 1 };
        return RefreshAsync();
    }

    protected Task GoToPageAsync(int page)
    {
        Request = Request with { Page = Math.Max(1, page) };
        return RefreshAsync();
    }

    protected Task SetPageSizeAsync(int pageSize)
    {
        Request = Request with { PageSize = pageSize, Page = 1 };
        return RefreshAsync();
    }
}
