using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Rlwe;

namespace Veil.Cli;

/// <summary>
/// veil stats: the mean and the variance of every breast-cancer feature, computed by a party that holds only
/// ciphertexts and public keys, decrypted by the key owner, shown next to the plaintext values.
/// </summary>
internal static class StatsCommand
{
    private const int Stride = 32; // slot i holds feature i mod 32 of some row

    public static int Run(string[] args)
    {
        var options = new Options(args, new HashSet<string> { "json" }, new HashSet<string>());
        bool json = options.Has("json");
        var x = BuiltinDatasets.BreastCancer().Features;
        var featureNames = BuiltinDatasets.BreastCancerFeatureNames;
        int rows = x.Length, features = x[0].Length;

        var total = Stopwatch.StartNew();
        // --- data owner: parameters, keys, encryption
        var sw = Stopwatch.StartNew();
        var parameters = CkksParameters.Create(CkksParameters.SetB);
        var keygen = new KeyGenerator(parameters.Ring);
        var publicKey = keygen.CreatePublicKey();
        var relin = keygen.CreateRelinearizationKey();
        int slots = parameters.Slots;
        var steps = new List<int>();
        for (int s = Stride; s < slots; s <<= 1) steps.Add(s);
        var galois = keygen.CreateRotationKeys(steps);
        double keygenMs = sw.Elapsed.TotalMilliseconds;

        sw.Restart();
        var encoder = new CkksEncoder(parameters);
        var encryptor = new Encryptor(parameters.Ring, publicKey);
        int rowsPerCt = slots / Stride;
        int blocks = (rows + rowsPerCt - 1) / rowsPerCt;
        var cts = new Ciphertext[blocks];
        var occupied = new double[blocks][];
        for (int b = 0; b < blocks; b++)
        {
            var packed = new double[slots];
            occupied[b] = new double[slots];
            for (int r = b * rowsPerCt; r < Math.Min(rows, (b + 1) * rowsPerCt); r++)
                for (int c = 0; c < features; c++)
                {
                    int slot = (r - b * rowsPerCt) * Stride + c;
                    packed[slot] = x[r][c];
                    occupied[b][slot] = 1;
                }
            cts[b] = encryptor.Encrypt(encoder.Encode(packed));
        }
        double encryptMs = sw.Elapsed.TotalMilliseconds;

        // --- computing party: public and evaluation keys only
        sw.Restart();
        var ev = new CkksEvaluator(parameters, relin, galois);
        var sum = cts[0].Clone();
        for (int b = 1; b < blocks; b++) ev.Add(sum, cts[b], sum);
        SumAcrossRows(ev, sum, slots);
        var mean = ev.Rescale(ev.MultiplyScalar(sum, 1.0 / rows));
        Ciphertext? squares = null;
        for (int b = 0; b < blocks; b++)
        {
            var d = ev.Sub(cts[b], mean);
            // Zero the empty slots (they would hold −mean), at a scale the next rescale divides away exactly.
            int level = d.Level;
            var mask = encoder.Encode(occupied[b], parameters.Ring.Q[level], level);
            ev.MultiplyPlain(d, mask, d);
            ev.Rescale(d, d);
            var sq = ev.Square(d);
            ev.Relinearize(sq, sq);
            ev.Rescale(sq, sq);
            if (squares is null) squares = sq; else ev.Add(squares, sq, squares);
        }
        SumAcrossRows(ev, squares!, slots);
        var variance = ev.Rescale(ev.MultiplyScalar(squares!, 1.0 / (rows - 1)));
        double computeMs = sw.Elapsed.TotalMilliseconds;

        // --- data owner: decryption
        sw.Restart();
        var decryptor = new Decryptor(parameters.Ring, keygen.SecretKey);
        var encMean = encoder.Decode(decryptor.Decrypt(mean));
        var encVar = encoder.Decode(decryptor.Decrypt(variance));
        double decryptMs = sw.Elapsed.TotalMilliseconds;
        keygen.SecretKey.Dispose();

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
            // CKKS error is absolute (about 2^-25 of the scale): allow 1e-7 absolute plus 1e-4 relative.
            withinBounds &= absMean <= 1e-7 + 1e-4 * Math.Abs(plainMean[c]) && absVar <= 1e-7 + 1e-4 * Math.Abs(plainVar[c]);
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
                worst_relative_error = worstRel,
                worst_absolute_error = worstAbs,
                within_bounds = withinBounds,
                columns = results,
            }));
            return withinBounds ? 0 : 1;
        }

        AnsiConsole.MarkupLine($"[bold]Veil stats[/]: mean and variance of the {features} features of the breast-cancer data ({rows} patients),");
        AnsiConsole.MarkupLine("computed on ciphertexts by a party holding only public keys; the key owner decrypts the results.");
        AnsiConsole.MarkupLine($"CKKS N = {parameters.N}, log2(QP) = {parameters.Ring.LogQP}, {parameters.MaxLevel} levels, scale 2^40, {(int)parameters.Ring.Security}-bit security; {blocks} ciphertexts of {Stride} features × {rowsPerCt} rows.");
        var table = new Table().AddColumns("feature", "mean (plain)", "mean (encrypted)", "variance (plain)", "variance (encrypted)", "rel. error");
        for (int c = 0; c < features; c++)
        {
            double rel = Math.Max(Math.Abs(encMean[c] - plainMean[c]) / Math.Abs(plainMean[c]), Math.Abs(encVar[c] - plainVar[c]) / Math.Abs(plainVar[c]));
            table.AddRow(featureNames[c], G(plainMean[c]), G(encMean[c]), G(plainVar[c]), G(encVar[c]), rel.ToString("E1", System.Globalization.CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"worst relative error {worstRel:E2}, worst absolute error {worstAbs:E2} ({(withinBounds ? "within" : "OUTSIDE")} 1e-7 + 1e-4·|value|)");
        AnsiConsole.MarkupLine($"keys {keygenMs:F0} ms, encrypt {encryptMs:F0} ms, encrypted computation {computeMs:F0} ms, decrypt {decryptMs:F0} ms (plaintext: {plainMs:F2} ms); total {total.Elapsed.TotalSeconds:F1} s.");
        return withinBounds ? 0 : 1;
    }

    private static string G(double v) => v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Adds the ciphertext to its rotations by Stride·2^k, so each slot holds the sum over all rows of its feature.</summary>
    private static void SumAcrossRows(CkksEvaluator ev, Ciphertext ct, int slots)
    {
        for (int s = Stride; s < slots; s <<= 1) ev.Add(ct, ev.Rotate(ct, s), ct);
    }
}
