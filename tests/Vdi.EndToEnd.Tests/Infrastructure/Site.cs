namespace Vdi.EndToEnd.Tests.Infrastructure;

/// <summary>
/// One broker and one browser for a test class; each test opens its own browser contexts (separate
/// cookies, viewport and device scale) against it.
/// </summary>
public abstract class Site : IAsyncLifetime
{
    /// <summary>How long a page may take to show what a test expects; the web client loads the .NET runtime first.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly bool _runningDesktops;
    private LiveBroker? _broker;
    private Chromium? _chromium;

    protected Site(bool runningDesktops) => _runningDesktops = runningDesktops;

    public LiveBroker Broker => _broker ?? throw new InvalidOperationException("the site has not started");

    public IBrowser Browser => _chromium?.Browser ?? throw new InvalidOperationException("the site has not started");

    /// <summary>A fresh, signed-out browser context whose viewport is <paramref name="width"/>x<paramref name="height"/> CSS pixels.</summary>
    public async Task<IBrowserContext> NewContextAsync(int width = 1280, int height = 720, float deviceScaleFactor = 1)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Broker.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            DeviceScaleFactor = deviceScaleFactor,
        });
        context.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        return context;
    }

    public async Task InitializeAsync()
    {
        SetDefaultExpectTimeout((float)Timeout.TotalMilliseconds);
        var broker = LiveBroker.StartAsync(_runningDesktops);
        var chromium = Chromium.LaunchAsync();
        try
        {
            await Task.WhenAll(broker, chromium);
        }
        catch
        {
            if (broker.IsCompletedSuccessfully)
                await broker.Result.DisposeAsync();
            if (chromium.IsCompletedSuccessfully)
                await chromium.Result.DisposeAsync();
            throw;
        }
        _broker = broker.Result;
        _chromium = chromium.Result;
        // Pages are checked against a settled desktop: Running on real KVM (a failure to start names
        // /dev/kvm), Failed on the missing device.
        await _broker.WaitForBuiltInDesktopAsync(_runningDesktops ? "Running" : "Failed", TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        if (_chromium is not null)
            await _chromium.DisposeAsync();
        if (_broker is not null)
            await _broker.DisposeAsync();
        _chromium = null;
        _broker = null;
    }
}

/// <summary>A broker whose desktops need a KVM device that cannot exist, so they show Failed on every host.</summary>
public sealed class SiteWithFailedDesktop : Site
{
    public SiteWithFailedDesktop()
        : base(runningDesktops: false)
    {
    }
}

/// <summary>A broker whose built-in desktop is running: on KVM where it works, else on the VMM's software engine.</summary>
public sealed class SiteWithDesktop : Site
{
    public SiteWithDesktop()
        : base(runningDesktops: true)
    {
    }
}
