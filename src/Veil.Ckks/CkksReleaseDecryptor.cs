using System.Numerics;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;
using Veil.Rlwe;

namespace Veil.Ckks;

/// <summary>
/// How a decryption whose result leaves the key holder is protected: the statistical security of the flooding noise,
/// and either a static bound on the ciphertext's error or the per-ciphertext estimate.
/// </summary>
public sealed record ReleasePolicy
{
    /// <summary>The lowest statistical security accepted: 30 bits.</summary>
    public const int MinimumStatisticalSecurity = 30;

    /// <summary>The default policy: 40 bits of statistical security, the error estimated from each ciphertext.</summary>
    public static ReleasePolicy Default { get; } = new();

    /// <summary>
    /// s: an adversary who sees every released result of the key's budget succeeds with probability at most 2^−s
    /// beyond what it could without them. At least <see cref="MinimumStatisticalSecurity"/>; default 40.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 30 or above 128.</exception>
    public int StatisticalSecurity
    {
        get;
        init
        {
            if (value < MinimumStatisticalSecurity || value > 128)
                throw new ArgumentOutOfRangeException(nameof(StatisticalSecurity), value, $"Statistical security must be in [{MinimumStatisticalSecurity}, 128] bits.");
            field = value;
        }
    } = 40;

    /// <summary>
    /// log2 of a bound t on the coefficients of the ciphertext's error, measured beforehand on the same computation
    /// under an independent key (OpenFHE's static estimation); null (the default) estimates it from each ciphertext.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not finite or outside [0, 60].</exception>
    public double? ErrorBits
    {
        get;
        init
        {
            if (value is { } v && !(v >= 0 && v <= 60))
                throw new ArgumentOutOfRangeException(nameof(ErrorBits), value, "ErrorBits must be in [0, 60].");
            field = value;
        }
    }

    /// <summary>A release whose values would keep fewer bits than this is refused before the budget is charged (default 1).</summary>
    public double MinimumPrecisionBits { get; init; } = 1;
}

/// <summary>What a release decryption returned and what protected it.</summary>
/// <param name="Values">The real parts of the requested slots, flooded.</param>
/// <param name="ErrorBits">log2 of the error bound t the noise was sized for.</param>
/// <param name="FloodingBits">log2 of the flooding noise's standard deviation σ (per coefficient).</param>
/// <param name="PrecisionBits">−log2 of the standard deviation the flooding adds to each slot value.</param>
/// <param name="BudgetRemaining">Release decryptions the key still allows.</param>
public sealed record ReleasedValues(double[] Values, double ErrorBits, double FloodingBits, double PrecisionBits, int BudgetRemaining);

/// <summary>
/// Decryption for results that leave the key holder — returned to the computing party, published, printed as a shared
/// statistic — protected against key recovery from decryptions (Li and Micciancio, Eurocrypt 2021).
/// </summary>
/// <remarks>
/// <para>A plain CKKS decryption returns c_0 + c_1·s exactly (to double precision), and the encoder is public: whoever
/// sees the values and the ciphertext gets linear equations in s, and two results give the whole key. Here the key
/// holder adds Gaussian noise z of standard deviation σ = √(12·τ)·2^(s/2)·t to the coefficients before decoding
/// (OpenFHE's noise-flooding decryption): t bounds the ciphertext's error, τ is the key's
/// <see cref="DecryptionBudget.Limit"/> (the number of such results the noise is sized for; each release is counted
/// and refused once it is spent) and s the policy's statistical security.</para>
/// <para>The error bound: a static one from the policy, else estimated from the ciphertext itself. A real-valued
/// message is invariant under X → X^(−1), so (p(X) − p(X^(−1)))/2 is pure error: its coefficients give the error's
/// standard deviation σ_e, and t = 2^⌈log2(6·max(σ_e, 3.2))⌉ — six deviations, rounded up to a power of two, so that
/// what the estimate reveals of the error is a single small integer. The estimate assumes real slots and an honest
/// computation: a ciphertext produced to deceive it (a complex message is refused as imprecise, not misjudged) needs
/// the static bound. Nothing protects against a computing party that returns something other than the agreed circuit.</para>
/// <para>Cost in precision: each slot's value carries noise of standard deviation σ·√(N/2)/Δ, reported as
/// <see cref="ReleasedValues.PrecisionBits"/>: log2 Δ − log2 t − s/2 − ½·log2(12τ) − ½·log2(N/2) bits. With the
/// defaults (s = 40, τ = 1024) the flooding takes about 27 bits more than the error itself, so results meant for
/// release should end at a large scale, with values near 1, and keys made for a few releases should say so
/// (<see cref="DecryptionBudget.Restrict"/>; τ = 2 saves 4.5 bits). When the values stay with the key holder, plain
/// decryption (<see cref="Decryptor"/> and <see cref="CkksEncoder"/>) is safe and exact.</para>
/// </remarks>
public sealed class CkksReleaseDecryptor
{
    private readonly CkksParameters _parameters;
    private readonly SecretKey _secretKey;
    private readonly Decryptor _decryptor;
    private readonly CkksEncoder _encoder;

    /// <summary>The policy applied.</summary>
    public ReleasePolicy Policy { get; }

    /// <summary>Creates a release decryptor for a key; its releases count against <see cref="SecretKey.ReleaseBudget"/>.</summary>
    /// <exception cref="ArgumentException">The key belongs to other parameters.</exception>
    public CkksReleaseDecryptor(CkksParameters parameters, SecretKey secretKey, ReleasePolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(secretKey);
        _parameters = parameters;
        _secretKey = secretKey;
        _decryptor = new Decryptor(parameters.Ring, secretKey);
        _encoder = new CkksEncoder(parameters) { MaxDegreeOfParallelism = 1 };
        Policy = policy ?? ReleasePolicy.Default;
    }

    /// <summary>The real parts of slots [<paramref name="start"/>, start + <paramref name="count"/>), flooded.</summary>
    /// <exception cref="ArgumentException">The ciphertext belongs to other parameters or is not in NTT form.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The slot range is outside [0, N/2).</exception>
    /// <exception cref="DecryptionBudgetExhaustedException">The key's release budget is spent.</exception>
    /// <exception cref="InvalidOperationException">The flooding would leave fewer than
    /// <see cref="ReleasePolicy.MinimumPrecisionBits"/> bits, or would not fit below Q_ℓ/2 at the ciphertext's level.</exception>
    public ReleasedValues Decrypt(Ciphertext ciphertext, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        int slots = _parameters.Slots, n = _parameters.N;
        if (start < 0 || count < 0 || (long)start + count > slots)
            ThrowHelper.OutOfRange(nameof(count), $"Slots [{start}, {(long)start + count}) are outside [0, {slots}).");
        var plaintext = _decryptor.Decrypt(ciphertext);
        var coefficients = SecretArrayPool<double>.Rent(n);
        var noise = SecretArrayPool<long>.Rent(n);
        var values = SecretArrayPool<Complex>.Rent(slots);
        try
        {
            _encoder.CenteredCoefficients(plaintext, coefficients);
            double errorBits = Policy.ErrorBits ?? EstimateErrorBits(coefficients.AsSpan(0, n));
            int budget = _secretKey.ReleaseBudget.Limit;
            double floodingBits = 0.5 * Math.Log2(12.0 * Math.Max(budget, 1)) + Policy.StatisticalSecurity / 2.0 + errorBits;
            double precision = Math.Log2(ciphertext.Scale) - floodingBits - 0.5 * Math.Log2(slots);
            if (precision < Policy.MinimumPrecisionBits)
                ThrowHelper.InvalidOperation(
                    $"Flooding for {budget} releases at {Policy.StatisticalSecurity}-bit statistical security and an error of 2^{errorBits:F0} needs noise of " +
                    $"2^{floodingBits:F1}, which leaves {precision:F1} bits at scale 2^{Math.Log2(ciphertext.Scale):F1}; at least {Policy.MinimumPrecisionBits} are required. " +
                    "Release at a larger scale, restrict the key's budget, or (for a complex message) give ReleasePolicy.ErrorBits from a static estimate.");
            double logQ = 0;
            for (int j = 0; j <= ciphertext.Level; j++) logQ += Math.Log2(_parameters.Ring.Q[j]);
            double largest = 0;
            foreach (double c in coefficients.AsSpan(0, n)) largest = Math.Max(largest, Math.Abs(c));
            if (Math.Log2(largest + Math.Pow(2, floodingBits + 6)) >= logQ - 1 || floodingBits + 6 > Math.Log2(Samplers.MaxWideSigma))
                ThrowHelper.InvalidOperation($"Flooding noise of 2^{floodingBits:F1} does not fit below Q/2 = 2^{logQ - 1:F1} at level {ciphertext.Level}; release at a higher level.");
            if (!_secretKey.ReleaseBudget.TryConsume())
                throw new DecryptionBudgetExhaustedException(_secretKey.ReleaseBudget.Limit);
            Samplers.WideGaussian(SystemRandom.Instance, Math.Pow(2, floodingBits), noise.AsSpan(0, n));
            for (int i = 0; i < n; i++) coefficients[i] += noise[i];
            _encoder.SlotsFromCoefficients(coefficients.AsSpan(0, n), ciphertext.Scale, values);
            var result = new double[count];
            for (int i = 0; i < count; i++) result[i] = values[start + i].Real;
            return new ReleasedValues(result, errorBits, floodingBits, precision, _secretKey.ReleaseBudget.Remaining);
        }
        finally
        {
            SecretArrayPool<ulong>.Wipe(plaintext.Data);
            SecretArrayPool<double>.Return(coefficients, n);
            SecretArrayPool<long>.Return(noise, n);
            SecretArrayPool<Complex>.Return(values, slots);
        }
    }

    /// <summary>
    /// log2 of the error bound t estimated from the centered coefficients p of a decrypted real-valued message:
    /// t = 2^⌈log2(6·max(σ_e, 3.2))⌉ with σ_e² = 2·mean((p_j + p_(N−j))/2)² over j = 1 … N/2 − 1.
    /// </summary>
    public static double EstimateErrorBits(ReadOnlySpan<double> coefficients)
    {
        int n = coefficients.Length;
        if (n < 4 || (n & (n - 1)) != 0) ThrowHelper.Argument(nameof(coefficients), $"A ring degree is a power of two ≥ 4; got {n} coefficients.");
        double sum = 0;
        for (int j = 1; j < n / 2; j++)
        {
            double a = 0.5 * (coefficients[j] + coefficients[n - j]);
            sum += a * a;
        }
        double sigma = Math.Sqrt(2 * sum / (n / 2 - 1));
        return Math.Ceiling(Math.Log2(6 * Math.Max(sigma, Samplers.Sigma)));
    }
}
