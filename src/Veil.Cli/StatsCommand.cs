using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;
using Veil.Rlwe;

namespace Veil.Cli;

/// <summary>
/// veil stats: the mean and the variance of every breast-cancer feature, computed by a party that holds only
/// ciphertexts and public keys, released by the key owner with flooding, shown next to the plaintext values.
/// </summary>
internal static class StatsCommand
{
    private const int Stride = 32; // slot i holds feature i mod 32 of some row

    public static int Run(bool json)
    {
        var x = BuiltinDatasets.BreastCancer().Features;
        var featureNames = BuiltinDatasets.BreastCancerFeatureNames;
        int rows = x.Length, features = x[0].Length;

        var total = Stopwatch.StartNew();
        // --- data owner: keys (a release budget of exactly the two results), scaled rows, encryption
        var sw = Stopwatch.StartNew();
        using var owner = new ColumnStatisticsOwner(x, Stride);
        var parameters = owner.Parameters;
        int blocks = owner.Blocks.Count, rowsPerCt = parameters.Slots / Stride;
        double keygenMs = sw.Elapsed.TotalMilliseconds; // keys and encryption together
        double encryptMs = 0;

        // --- computing party: public and evaluation keys only
        sw.Restart();
        var (meanCt, varianceCt) = EncryptedColumnStatistics.Compute(owner.PublicContext, owner.Blocks, rows, features, Stride);
        double computeMs = sw.Elapsed.TotalMilliseconds;

        // --- data owner: the results are shared, so they are released with flooding, never decrypted plainly
        sw.Restart();
        var released = owner.Release(meanCt, varianceCt);
        var encMean = released.Mean;
        var encVar = released.Variance;
        double decryptMs = sw.Elapsed.TotalMilliseconds;

        // --- plaintext twin
        sw.Restart();
        var plainMean = new double[features];
        var plainVar = new double[features];
        for (int c = 0; c < features; c++)
        {
            double m = 0;
            for (int r = 0; r < rows; r++) m += x[r][c];
            m /= rows;
            double v = 0;
            for (int r = 0; r < rows; r++) v += (x[r][c] - m) * (x[r][c] - m);
            plainMean[c] = m;
            plainVar[c] = v / (rows - 1);
        }
        double plainMs = sw.Elapsed.TotalMilliseconds;

        double worstRel = 0, worstAbs = 0;
        bool withinBounds = true;
        var results = new List<object>();
        for (int c = 0; c < features; c++)
        {
            double relMean = Math.Abs(encMean[c] - plainMean[c]) / Math.Abs(plainMean[c]);
            double relVar = Math.Abs(encVar[c] - plainVar[c]) / Math.Abs(plainVar[c]);
            worstRel = Math.Max(worstRel, Math.Max(relMean, relVar));
            double absMean = Math.Abs(encMean[c] - plainMean[c]), absVar = Math.Abs(encVar[c] - plainVar[c]);
            worstAbs = Math.Max(worstAbs, Math.Max(absMean, absVar));
            // The release guarantees its bound (eight deviations of the flooding); CKKS's own error is far below it.
            withinBounds &= absMean <= released.MeanErrorBound[c] && absVar <= released.VarianceErrorBound[c];
            results.Add(new { feature = featureNames[c], plaintext_mean = plainMean[c], encrypted_mean = encMean[c], plaintext_variance = plainVar[c], encrypted_variance = encVar[c] });
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                dataset = "breast_cancer",
                rows,
                features,
                n = parameters.N,
                levels = parameters.MaxLevel,
                log_qp = parameters.Ring.LogQP,
                security_bits = (int)parameters.Ring.Security,
                keygen_ms = keygenMs, encrypt_ms = encryptMs, encrypted_compute_ms = computeMs, decrypt_ms = decryptMs, plaintext_ms = plainMs,
                release_precision_bits = new { mean = released.PrecisionBits.Mean, variance = released.PrecisionBits.Variance },
                release_budget = 2,
                worst_relative_error = worstRel,
                worst_absolute_error = worstAbs,
                within_bounds = withinBounds,
                columns = results,
            }));
            return withinBounds ? 0 : 1;
        }

        AnsiConsole.MarkupLine($"[bold]Veil stats[/]: mean and variance of the {features} features of the breast-cancer data ({rows} patients),");
        AnsiConsole.MarkupLine("computed on ciphertexts by a party holding only public keys; the key owner releases the two shared results with");
        AnsiConsole.MarkupLine($"noise flooding (40-bit statistical security, a key budget of two releases): {released.PrecisionBits.Mean:F1} bits kept for the means, {released.PrecisionBits.Variance:F1} for the variances, of columns scaled into [[-1, 1]].");
        AnsiConsole.MarkupLine($"CKKS N = {parameters.N}, log2(QP) = {parameters.Ring.LogQP}, {parameters.MaxLevel} levels, scale 2^{parameters.Literal.LogDefaultScale}, {(int)parameters.Ring.Security}-bit security; {blocks} ciphertexts of {Stride} features × {rowsPerCt} rows.");
        var table = new Table().AddColumns("feature", "mean (plain)", "mean (encrypted)", "variance (plain)", "variance (encrypted)", "rel. error");
        for (int c = 0; c < features; c++)
        {
            double rel = Math.Max(Math.Abs(encMean[c] - plainMean[c]) / Math.Abs(plainMean[c]), Math.Abs(encVar[c] - plainVar[c]) / Math.Abs(plainVar[c]));
            table.AddRow(featureNames[c], G(plainMean[c]), G(encMean[c]), G(plainVar[c]), G(encVar[c]), rel.ToString("E1", System.Globalization.CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"worst relative error {worstRel:E2}, worst absolute error {worstAbs:E2} ({(withinBounds ? "within" : "OUTSIDE")} the release's bounds)");
        AnsiConsole.MarkupLine($"keys and encryption {keygenMs:F0} ms, encrypted computation {computeMs:F0} ms, release {decryptMs:F0} ms (plaintext: {plainMs:F2} ms); total {total.Elapsed.TotalSeconds:F1} s.");
        return withinBounds ? 0 : 1;
    }

    private static string G(double v) => v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
}
