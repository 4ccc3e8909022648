using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Vdi.Server.Tests.Api;

/// <summary>A client's mistake is a warning line in the log, not an error with a stack trace.</summary>
public sealed class ClientErrorLoggingTests : IDisposable
{
    private readonly BrokerFactory _factory = new(autoStart: false);

    [Fact]
    public async Task A_malformed_body_is_logged_as_a_warning_without_a_stack_trace()
    {
        var logs = new CapturingLogs();
        using var factory = _factory.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<ILoggerProvider>(logs)));
        var client = factory.CreateClient();
        var response = await client.PostAsync("/api/auth/sign-in", new StringContent("{not json", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Exception is not null);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("/api/auth/sign-in", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }

    private sealed record Entry(LogLevel Level, string Message, Exception? Exception);

    private sealed class CapturingLogs : ILoggerProvider
    {
        public ConcurrentQueue<Entry> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(Entries);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<Entry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue(new Entry(logLevel, formatter(state, exception), exception));
        }
    }
}
