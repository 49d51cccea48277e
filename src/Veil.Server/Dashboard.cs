namespace Veil.Server;

/// <summary>The dashboard page (embedded): it reads /v1/admin/overview with an admin key the operator types in.</summary>
internal static class Dashboard
{
    public static string Html { get; } = Load();

    private static string Load()
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("Veil.Server.Dashboard.index.html")
            ?? throw new InvalidOperationException("The dashboard page is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
