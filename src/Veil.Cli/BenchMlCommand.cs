using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.Cli;

/// <summary>veil bench ml: encrypted training of both models on the full shipped data sets, with per-iteration times.</summary>
internal static class BenchMlCommand
{
    public static int Run(bool json, bool withIris, int seed, int? iterations = null)
    {
        var runs = new List<(TrainCommand.Result Result, string Parameters)>
        {
            Run("diabetes", BuiltinDatasets.Diabetes(), logistic: false, seed, json, iterations),
            Run("breast_cancer", BuiltinDatasets.BreastCancer(), logistic: true, seed, json, iterations),
        };
        if (withIris) runs.Add(Run("iris", BuiltinDatasets.Iris(), logistic: true, seed, json, iterations));
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(runs.Select(r => new
            {
                result = TrainCommand.ToJson(r.Result),
                plaintext_auc = r.Result.PlaintextAuc,
                encrypted_auc = r.Result.Auc,
                ordinary_least_squares_r2 = r.Result.OrdinaryLeastSquares,
                train_seconds = r.Result.TrainSeconds,
                seconds_per_iteration = r.Result.TrainSeconds / r.Result.Iterations,
                bootstraps = r.Result.Bootstraps,
                parameters = r.Parameters,
            })));
            return 0;
        }
        var table = new Table().AddColumns("model", "data", "metric", "plaintext", "encrypted", "OLS R²", "iterations", "bootstraps", "train s", "s / iteration", "total s", "parameters");
        foreach (var (r, p) in runs)
            table.AddRow(r.Model, r.Dataset, r.Metric, F(r.Plaintext), F(r.Encrypted), r.OrdinaryLeastSquares is { } ols ? F(ols) : "", r.Iterations.ToString(CultureInfo.InvariantCulture),
                r.Bootstraps.ToString(CultureInfo.InvariantCulture), F(r.TrainSeconds ?? 0, "F1"), F((r.TrainSeconds ?? 0) / r.Iterations, "F2"), F(r.EncryptedSeconds, "F1"), p);
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("Anchors: TenSEAL 160 s per epoch (780 × 9); iDASH 2017 winner about 6 minutes in all (1,579 × 18).");
        return 0;
    }

    private static (TrainCommand.Result, string) Run(string name, Dataset data, bool logistic, int seed, bool json, int? iterations)
    {
        var gd = logistic ? EncryptedLogisticRegression.DefaultGradientDescent : EncryptedLinearRegression.DefaultGradientDescent;
        // More iterations than one chain holds: the library bootstraps on its own (N16).
        if (iterations is { } k) gd = gd with { Iterations = k };
        var result = TrainCommand.Train(data, name, logistic, new EncryptedModelOptions { GradientDescent = gd }, 0.2, seed, json);
        string parameters = $"N = {result.N}, {result.Levels} levels, {result.SecurityBits}-bit, η = {gd.LearningRate}";
        // Long runs (bootstrapping) report each data set as it finishes, on stderr, so a killed run keeps what it measured.
        Console.Error.WriteLine(JsonSerializer.Serialize(new { result = TrainCommand.ToJson(result), ordinary_least_squares_r2 = result.OrdinaryLeastSquares, train_seconds = result.TrainSeconds, bootstraps = result.Bootstraps }));
        return (result, parameters);
    }

    private static string F(double v, string format = "F4") => v.ToString(format, CultureInfo.InvariantCulture);
}
