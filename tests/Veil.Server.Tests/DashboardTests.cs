using Microsoft.Playwright;
using Veil.Ml.Serving;

namespace Veil.Server.Tests;

/// <summary>The dashboard in a real headless Chromium (Debian's chromium; CI installs it and sets VEIL_REQUIRE_CHROMIUM=1).</summary>
public sealed class DashboardTests
{
    private static string? Chromium()
    {
        foreach (var path in new[] { Environment.GetEnvironmentVariable("VEIL_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" })
            if (!string.IsNullOrEmpty(path) && File.Exists(path)) return path;
        Assert.False(Environment.GetEnvironmentVariable("VEIL_REQUIRE_CHROMIUM") == "1", "VEIL_REQUIRE_CHROMIUM=1 but no Chromium was found.");
        return null;
    }

    [SkippableFact]
    public async Task TheDashboard_ShowsModelsSessionsAndJobs_AndNoSecret()
    {
        var chromium = Chromium();
        Skip.If(chromium is null, "Chromium is not installed (apt-get install chromium).");
        await using var fixture = await ServerFixture.StartAsync(kestrel: true);
        using var admin = fixture.Admin();
        await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("clinic"));
        using var client = fixture.Client(tenant.ApiKey);
        using var session = await client.OpenSessionAsync("small", batchedOnly: true);
        var job = await session.SubmitBatchAsync(ServerFixture.Inputs(3));
        await session.WaitForJobAsync(job.JobId, 3, poll: TimeSpan.FromMilliseconds(20));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox", "--disable-gpu"] });
        // The service's certificate is self-signed (clients pin it); the browser is told to accept it.
        var context = await browser.NewContextAsync(new() { IgnoreHTTPSErrors = true });
        var page = await context.NewPageAsync();
        await page.GotoAsync(fixture.Server.Addresses[0].TrimEnd('/') + "/dashboard");

        // A wrong key is refused on the page.
        await page.FillAsync("#key", "veil_" + new string('0', 24) + "_" + new string('A', 43));
        await page.ClickAsync("button[type=submit]");
        await page.WaitForFunctionAsync("() => document.getElementById('status').textContent.startsWith('401')");

        await page.FillAsync("#key", fixture.AdminKey);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#jobs tbody tr').length === 1");
        Assert.Equal("small", await page.InnerTextAsync("#models tbody tr td:first-child"));
        Assert.Contains(session.Info.SessionId, await page.InnerTextAsync("#sessions tbody"));
        Assert.Equal("succeeded", await page.InnerTextAsync("#jobs tbody tr td.state"));
        Assert.Equal("1", await page.InnerTextAsync("#sessionCount"));
        await page.WaitForFunctionAsync("() => Number(document.getElementById('evaluations').textContent) >= 1");

        // Nothing secret reached the page: not the typed key (the field is cleared), not a tenant's key, no key material.
        string html = await page.ContentAsync();
        Assert.DoesNotContain(fixture.AdminKey, html);
        Assert.DoesNotContain(tenant.ApiKey, html);
        Assert.Equal("", await page.InputValueAsync("#key"));
        Assert.DoesNotContain(Convert.ToBase64String(session.Keys.PublicContext().AsSpan(100, 48)), html);
    }
}
