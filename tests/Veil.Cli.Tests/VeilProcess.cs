using System.Diagnostics;
using System.Reflection;

namespace Veil.Cli.Tests;

/// <summary>Runs the built veil.dll as a separate OS process, as a user's shell would.</summary>
internal static class VeilProcess
{
    private static readonly string CliPath = Path.GetFullPath(typeof(VeilProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "VeilCli").Value!);

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(string workingDirectory, params string[] args) => RunWith(workingDirectory, null, args);

    /// <summary>Runs with extra environment variables (a protection home and its passphrase).</summary>
    public static Result RunWith(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        Assert.True(File.Exists(CliPath), $"the CLI is not built at {CliPath}");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, RedirectStandardInput = true };
        // Never the user's own keyring: every test gets its own home unless it passes one.
        start.Environment["VEIL_HOME"] = Path.Combine(workingDirectory, ".veil-test-home");
        start.Environment.Remove("VEIL_PASSPHRASE");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        start.ArgumentList.Add(CliPath);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // A hang guard, not a timing check: the mpc demo without a dealer took over 3 minutes once when the machine was shared.
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"veil {string.Join(' ', args)} did not finish in 8 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts veil without waiting (standard output and error redirected; the caller reads and disposes).</summary>
    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        Assert.True(File.Exists(CliPath), $"the CLI is not built at {CliPath}");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["VEIL_HOME"] = Path.Combine(workingDirectory, ".veil-test-home");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        start.ArgumentList.Add(CliPath);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    /// <summary>Runs and requires success, returning stdout.</summary>
    public static string Ok(string workingDirectory, params string[] args) => OkWith(workingDirectory, null, args);

    /// <summary>Runs with extra environment variables and requires success, returning stdout.</summary>
    public static string OkWith(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var result = RunWith(workingDirectory, environment, args);
        Assert.True(result.ExitCode == 0, $"veil {string.Join(' ', args)} exited {result.ExitCode}: {result.Stderr}");
        return result.Stdout;
    }
}

/// <summary>A scratch folder removed after the test.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("veil-cli-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
