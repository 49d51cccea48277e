namespace Veil.Cli.Tests;

/// <summary>Help on every command, and the documented exit codes (0 success, 1 failure, 2 usage).</summary>
public class CommandLineTests
{
    [Theory]
    [InlineData("--help")]
    [InlineData("demo", "--help")]
    [InlineData("stats", "--help")]
    [InlineData("train", "--help")]
    [InlineData("keys", "--help")]
    [InlineData("keys", "new", "--help")]
    [InlineData("encrypt", "--help")]
    [InlineData("decrypt", "--help")]
    [InlineData("bench", "--help")]
    [InlineData("bench", "ckks", "--help")]
    [InlineData("bench", "ml", "--help")]
    [InlineData("bench", "scaling", "--help")]
    [InlineData("bench", "mpc", "--help")]
    [InlineData("bench", "serve", "--help")]
    [InlineData("serve", "--help")]
    [InlineData("deploy", "--help")]
    [InlineData("predict", "--help")]
    [InlineData("infer", "--help")]
    [InlineData("keys", "init", "--help")]
    [InlineData("keys", "rotate", "--help")]
    [InlineData("keys", "wrap-for", "--help")]
    [InlineData("protect", "--help")]
    [InlineData("unprotect", "--help")]
    [InlineData("audit", "verify", "--help")]
    [InlineData("audit", "report", "--help")]
    public void EveryCommand_HasHelp(params string[] args)
    {
        var result = VeilProcess.Run(Path.GetTempPath(), args);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Usage:", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    [Theory]
    [InlineData("no-such-command")]
    [InlineData("train", "data.csv", "--model", "forest", "--target", "y")]
    [InlineData("train", "data.csv", "--model", "linear", "--target", "y", "--iterations", "0")]
    [InlineData("keys", "new", "--data", "x.csv")]
    [InlineData("demo", "--unknown-option")]
    [InlineData("deploy", "--builtin", "forest")]
    [InlineData("predict", "data.csv")]
    public void BadUsage_ExitsTwo_WithAMessage(params string[] args)
    {
        var result = VeilProcess.Run(Path.GetTempPath(), args);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("veil: ", result.Stderr);
    }

    [Fact]
    public void MissingFile_ExitsOne_NamingIt()
    {
        using var dir = new ScratchDirectory();
        var result = VeilProcess.Run(dir.Path, "train", "missing.csv", "--model", "linear", "--target", "y");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("missing.csv", result.Stderr);
    }
}
