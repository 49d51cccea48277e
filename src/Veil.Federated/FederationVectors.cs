using System.Security.Cryptography;
using Veil.Ckks;
using Veil.Multiparty;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Federated;

/// <summary>
/// What both sides derive from the federation file: the CKKS parameters of the collective key, the flooding policy and
/// decryption budget, and how a vector is split over ciphertexts. Sums need no multiplication, so Q is two 60-bit
/// primes and values sit at scale 2^80: the flooding noise (about 2^47 per coefficient) stays 2^−26 below a unit.
/// </summary>
public sealed class FederationPlan
{
    /// <summary>The plan for <paramref name="settings"/>.</summary>
    public FederationPlan(FederationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Settings = settings;
        Parameters = CkksParameters.Create(new CkksParametersLiteral { LogN = settings.LogN, LogQ = [60, 60], LogP = [60], LogDefaultScale = 80 });
        ParameterCount = LocalModels.ParameterCount(settings.Model, settings.Features, settings.Classes, settings.Hidden);
        // Every vector must fit one message: a ciphertext is 2 × N × 2 limbs × 8 bytes.
        long leastSquares = settings.Model == FederatedModelKind.Linear ? (long)(settings.Features + 1) * (settings.Features + 2) / 2 + settings.Features + 2 : 0;
        long perCiphertext = 2L * Parameters.N * 2 * 8 + 1024;
        foreach (var (what, length) in new[] { ("the least-squares sums", leastSquares), ("an update", (long)ParameterCount + 1), ("the statistics", 2L * (settings.Features + 1) + 1) })
            if ((length + Parameters.Slots - 1) / Parameters.Slots * perCiphertext > FederationServer.MaxMessageBytes)
                throw new FederationConfigurationException("features", $"{what} ({length} values) would not fit one {FederationServer.MaxMessageBytes >> 20} MiB message; use fewer features or classes.");
        LeastSquaresLength = (int)leastSquares;
        MaxValue = Math.Pow(2, 38 - Math.Ceiling(Math.Log2(settings.Participants)));
        int longest = Math.Max(Math.Max(StatisticsLength, LeastSquaresLength), UpdateLength);
        int chunksPerSum = (longest + Parameters.Slots - 1) / Parameters.Slots;
        // Every round may need a second or third set of decryptors (SCAFFOLD: two sums a round); statistics and least squares are one sum each.
        DecryptionBudget = checked(chunksPerSum * (settings.Rounds * (settings.Scaffold ? 2 : 1) + 2) * Math.Min(settings.MaxAttempts, 3) + 8);
        // A fresh public-key encryption's error under a sum of n ternary secrets, summed over n ciphertexts, is below 2^(17 + log2 n) with margin.
        Flooding = new FloodingPolicy(40, 17 + Math.Ceiling(Math.Log2(settings.Participants)));
    }

    /// <summary>The settings.</summary>
    public FederationSettings Settings { get; }
    /// <summary>The collective key's parameters (128-bit secure).</summary>
    public CkksParameters Parameters { get; }
    /// <summary>Length of θ.</summary>
    public int ParameterCount { get; }
    /// <summary>Decryption shares each participant may make.</summary>
    public int DecryptionBudget { get; }
    /// <summary>The flooding every decryption share carries.</summary>
    public FloodingPolicy Flooding { get; }

    /// <summary>Σx, Σx² over the features and the target, then n.</summary>
    public int StatisticsLength => 2 * (Settings.Features + 1) + 1;
    /// <summary>The upper triangle of ZᵀZ for Z = [x, 1], Zᵀy, n (linear models; 0 otherwise).</summary>
    public int LeastSquaresLength { get; }

    /// <summary>Largest |value| one participant may contribute: n of them summed at scale 2^80 stay below 2^118 &lt; Q/2.</summary>
    public double MaxValue { get; }
    /// <summary>The weighted update and its weight.</summary>
    public int UpdateLength => ParameterCount + 1;

    /// <summary>Ciphertexts a vector of <paramref name="length"/> values takes.</summary>
    public int Chunks(int length) => (length + Parameters.Slots - 1) / Parameters.Slots;

    /// <summary>The vector encrypted under the collective key, one ciphertext per <see cref="CkksParameters.Slots"/> values, serialized.</summary>
    /// <exception cref="ArgumentException">A value is not finite or too large for Q at scale 2^80 (see <see cref="MaxValue"/>).</exception>
    public byte[][] Encrypt(ReadOnlySpan<double> vector, PublicKey publicKey) => [.. EncryptCiphertexts(vector, publicKey).Select(c => RlweSerializer.Save(c))];

    /// <summary>The vector encrypted under the collective key, one ciphertext per <see cref="CkksParameters.Slots"/> values.</summary>
    /// <exception cref="ArgumentException">A value is not finite or too large for Q at scale 2^80 (see <see cref="MaxValue"/>).</exception>
    public Ciphertext[] EncryptCiphertexts(ReadOnlySpan<double> vector, PublicKey publicKey)
    {
        CheckValues(vector);
        var encoder = new CkksEncoder(Parameters);
        var encryptor = new Encryptor(Parameters.Ring, publicKey);
        var result = new Ciphertext[Chunks(vector.Length)];
        for (int c = 0; c < result.Length; c++)
        {
            var slice = vector.Slice(c * Parameters.Slots, Math.Min(Parameters.Slots, vector.Length - c * Parameters.Slots));
            result[c] = encryptor.Encrypt(encoder.Encode(slice));
        }
        return result;
    }

    /// <summary>Refuses a vector with a value that is not finite or past <see cref="MaxValue"/>.</summary>
    public void CheckValues(ReadOnlySpan<double> vector)
    {
        foreach (double v in vector)
            if (!double.IsFinite(v) || Math.Abs(v) >= MaxValue)
                throw new ArgumentException($"A value to aggregate is {v}: values must be finite and below 2^{Math.Log2(MaxValue):F0} for {Settings.Participants} participants (rescale features whose squares summed over the rows are that large).", nameof(vector));
    }

    /// <summary>Loads one participant's ciphertexts for a vector of <paramref name="length"/> values (count, level and scale checked).</summary>
    /// <exception cref="Veil.Serialization.VeilFormatException">Malformed bytes.</exception>
    /// <exception cref="FederationProtocolException">The wrong number of ciphertexts, or one at another level or scale.</exception>
    public Ciphertext[] LoadContribution(IReadOnlyList<byte[]> ciphertexts, int length)
    {
        if (ciphertexts.Count != Chunks(length)) throw FederationProtocolException.Invalid($"expected {Chunks(length)} ciphertexts, got {ciphertexts.Count}");
        return LoadCiphertexts(ciphertexts);
    }

    /// <summary>Fresh ciphertexts of a contribution, each checked (ring, top level, default scale, size 2); their count is the caller's to check.</summary>
    /// <exception cref="FederationProtocolException">A ciphertext that is not fresh.</exception>
    /// <exception cref="Veil.Serialization.VeilFormatException">Malformed bytes.</exception>
    public Ciphertext[] LoadCiphertexts(IReadOnlyList<byte[]> ciphertexts)
    {
        ArgumentNullException.ThrowIfNull(ciphertexts);
        var result = new Ciphertext[ciphertexts.Count];
        for (int i = 0; i < result.Length; i++)
        {
            var ct = RlweSerializer.LoadCiphertext(ciphertexts[i], Parameters.Ring);
            if (ct.Level != Parameters.MaxLevel || ct.Scale != Parameters.DefaultScale || ct.Size != 2)
                throw FederationProtocolException.Invalid($"ciphertext {i} is at level {ct.Level}, scale 2^{Math.Log2(ct.Scale):F1}, size {ct.Size}: a fresh one is at the top level and 2^80");
            result[i] = ct;
        }
        return result;
    }

    /// <summary>Σ of contributions, chunk by chunk.</summary>
    public Ciphertext[] Sum(IEnumerable<Ciphertext[]> contributions)
    {
        var evaluator = new CkksEvaluator(Parameters);
        Ciphertext[]? sum = null;
        foreach (var c in contributions)
        {
            if (sum is null) { sum = c.Select(x => x.Clone()).ToArray(); continue; }
            for (int i = 0; i < sum.Length; i++) evaluator.Add(sum[i], c[i], sum[i]);
        }
        return sum ?? throw new ArgumentException("Nothing to sum.", nameof(contributions));
    }

    /// <summary>The first <paramref name="length"/> slots of the decrypted chunks.</summary>
    public double[] Decode(IReadOnlyList<Plaintext> plaintexts, int length)
    {
        var encoder = new CkksEncoder(Parameters);
        var result = new double[length];
        for (int c = 0; c < plaintexts.Count; c++)
        {
            var values = encoder.Decode(plaintexts[c]);
            int n = Math.Min(Parameters.Slots, length - c * Parameters.Slots);
            Array.Copy(values, 0, result, c * Parameters.Slots, n);
        }
        return result;
    }

    // ---------------------------------------------------------------- the vectors participants contribute

    /// <summary>Σx_j, Σx_j², n of a participant's rows.</summary>
    public static double[] Statistics(double[][] x, int features)
    {
        var v = new double[2 * features + 1];
        foreach (var row in x)
            for (int j = 0; j < features; j++) { v[j] += row[j]; v[features + j] += row[j] * row[j]; }
        v[2 * features] = x.Length;
        return v;
    }

    /// <summary>The pooled means and scales (population deviation; 1 where a feature is constant) from summed statistics.</summary>
    public static (double[] Means, double[] Scales) PooledStandardization(ReadOnlySpan<double> sums, int features)
    {
        double n = sums[2 * features];
        if (!(n >= 1)) throw new FederationProtocolException(Grpc.Core.StatusCode.FailedPrecondition, "The pooled statistics count no rows.");
        var means = new double[features];
        var scales = new double[features];
        for (int j = 0; j < features; j++)
        {
            means[j] = sums[j] / n;
            double variance = Math.Max(0, sums[features + j] / n - means[j] * means[j]);
            scales[j] = variance > 1e-12 ? Math.Sqrt(variance) : 1;
        }
        return (means, scales);
    }

    /// <summary>Rows standardized with pooled means and scales.</summary>
    public static double[][] Standardize(double[][] x, IReadOnlyList<double> means, IReadOnlyList<double> scales) =>
        x.Select(row => row.Select((v, j) => (v - means[j]) / scales[j]).ToArray()).ToArray();

    /// <summary>The upper triangle of ZᵀZ (Z = [x, 1]), then Zᵀy, then n.</summary>
    public static double[] LeastSquares(double[][] x, double[] y, int features)
    {
        int m = features + 1;
        var v = new double[m * (m + 1) / 2 + m + 1];
        var z = new double[m];
        for (int i = 0; i < x.Length; i++)
        {
            Array.Copy(x[i], z, features);
            z[features] = 1;
            int k = 0;
            for (int a = 0; a < m; a++)
                for (int b = a; b < m; b++) v[k++] += z[a] * z[b];
            for (int a = 0; a < m; a++) v[k + a] += z[a] * y[i];
        }
        v[^1] = x.Length;
        return v;
    }

    /// <summary>The least-squares θ (weights then intercept) from summed ZᵀZ and Zᵀy, by Veil.Ml's Cholesky with a 10⁻⁹ relative ridge.</summary>
    public static double[] SolveLeastSquares(ReadOnlySpan<double> sums, int features)
    {
        int m = features + 1;
        var a = new double[m, m];
        int k = 0;
        for (int i = 0; i < m; i++)
            for (int j = i; j < m; j++) { a[i, j] = sums[k]; a[j, i] = sums[k]; k++; }
        var b = new double[m];
        for (int i = 0; i < m; i++) b[i] = sums[k + i];
        double trace = 0;
        for (int i = 0; i < m; i++) trace += a[i, i];
        for (int i = 0; i < m; i++) a[i, i] += 1e-9 * Math.Max(trace / m, 1);
        try { return Veil.Ml.Models.OrdinaryLeastSquares.SolveSymmetric(a, b); }
        catch (InvalidOperationException)
        {
            throw new FederationProtocolException(Grpc.Core.StatusCode.FailedPrecondition, "The pooled XᵀX is not positive definite: fewer rows than features, or a feature repeated.");
        }
    }

    /// <summary>Independent N(0, σ²) samples from the operating system's generator (Box–Muller on 53-bit uniforms).</summary>
    public static void AddGaussianNoise(Span<double> values, double sigma)
    {
        if (sigma == 0) return;
        Span<byte> bytes = stackalloc byte[16];
        for (int i = 0; i < values.Length; i += 2)
        {
            RandomNumberGenerator.Fill(bytes);
            double u1 = ((BitConverter.ToUInt64(bytes) >> 11) + 1.0) / 9007199254740992.0; // (0, 1]
            double u2 = (BitConverter.ToUInt64(bytes[8..]) >> 11) / 9007199254740992.0;
            double r = Math.Sqrt(-2 * Math.Log(u1)) * sigma;
            values[i] += r * Math.Cos(2 * Math.PI * u2);
            if (i + 1 < values.Length) values[i + 1] += r * Math.Sin(2 * Math.PI * u2);
        }
    }
}
