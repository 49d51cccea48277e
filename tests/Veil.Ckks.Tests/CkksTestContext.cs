using System.Numerics;
using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Ckks.Tests;

/// <summary>Parameters, keys and tools for one test parameter set, built once per test run.</summary>
public sealed class CkksTestContext
{
    public string Name { get; }
    public CkksParameters Parameters { get; }
    public KeyGenerator KeyGenerator { get; }
    public PublicKey PublicKey { get; }
    public RelinearizationKey RelinearizationKey { get; }
    public GaloisKeys GaloisKeys { get; }
    public Encryptor Encryptor { get; }
    public Encryptor SymmetricEncryptor { get; }
    public Decryptor Decryptor { get; }
    public CkksEvaluator Evaluator { get; }

    private CkksTestContext(string name, CkksParametersLiteral literal)
    {
        Name = name;
        Parameters = CkksParameters.Create(literal, SecurityLevel.InsecureNoCheck); // tiny rings, insecure on purpose
        KeyGenerator = new KeyGenerator(Parameters.Ring);
        PublicKey = KeyGenerator.CreatePublicKey();
        RelinearizationKey = KeyGenerator.CreateRelinearizationKey();
        GaloisKeys = KeyGenerator.CreatePowerOfTwoRotationKeys(includeConjugation: true);
        Encryptor = new Encryptor(Parameters.Ring, PublicKey);
        SymmetricEncryptor = new Encryptor(Parameters.Ring, KeyGenerator.SecretKey);
        Decryptor = new Decryptor(Parameters.Ring, KeyGenerator.SecretKey);
        Evaluator = new CkksEvaluator(Parameters, RelinearizationKey, GaloisKeys);
    }

    // Encoders hold scratch buffers; one per thread.
    private readonly ThreadLocal<CkksEncoder> _encoder = new();
    public CkksEncoder Encoder => _encoder.Value ??= new CkksEncoder(Parameters);

    public override string ToString() => Name;

    /// <summary>Tiny ring (N = 1024): insecure on purpose, for exhaustive rotation tests.</summary>
    public static readonly Lazy<CkksTestContext> Tiny = new(() => new("tiny N=1024 (INSECURE, test only)",
        new CkksParametersLiteral { LogN = 10, LogQ = [50, 40, 40], LogP = [55], LogDefaultScale = 40, Security = SecurityLevel.InsecureNoCheck }));

    /// <summary>N = 4096 with four levels: insecure on purpose (240 bits &gt; 109), keeps the suite fast.</summary>
    public static readonly Lazy<CkksTestContext> Small = new(() => new("small N=4096 (INSECURE, test only)",
        new CkksParametersLiteral { LogN = 12, LogQ = [60, 40, 40, 40, 40], LogP = [60], LogDefaultScale = 40, Security = SecurityLevel.InsecureNoCheck }));

    /// <summary>Two special primes, so that key-switching digits hold two primes each.</summary>
    public static readonly Lazy<CkksTestContext> TwoSpecial = new(() => new("N=4096, |P|=2 (INSECURE, test only)",
        new CkksParametersLiteral { LogN = 12, LogQ = [55, 40, 40, 40, 40], LogP = [55, 55], LogDefaultScale = 40, Security = SecurityLevel.InsecureNoCheck }));

    /// <summary>Anchor set A at 128-bit security.</summary>
    public static readonly Lazy<CkksTestContext> SetA = new(() => new("anchor A N=8192 (128-bit)", CkksParameters.SetA));

    public static Lazy<CkksTestContext> ByName(string name) => name switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "two-special" => TwoSpecial,
        "A" => SetA,
        _ => throw new ArgumentException(name),
    };

    // ------------------------------------------------------------------ data and measurement

    public static double[] RandomReals(int count, int seed, double bound = 1.0)
    {
        var rng = new Random(seed);
        var v = new double[count];
        for (int i = 0; i < count; i++) v[i] = (2 * rng.NextDouble() - 1) * bound;
        return v;
    }

    public static Complex[] RandomComplex(int count, int seed)
    {
        var rng = new Random(seed);
        var v = new Complex[count];
        for (int i = 0; i < count; i++) v[i] = new Complex(2 * rng.NextDouble() - 1, 2 * rng.NextDouble() - 1);
        return v;
    }

    public Ciphertext Encrypt(double[] values, int? level = null, double? scale = null) =>
        Encryptor.Encrypt(Encoder.Encode(values, scale ?? Parameters.DefaultScale, level ?? Parameters.MaxLevel));

    public Ciphertext Encrypt(Complex[] values, int? level = null) =>
        Encryptor.Encrypt(Encoder.Encode(values, Parameters.DefaultScale, level ?? Parameters.MaxLevel));

    public Complex[] DecryptComplex(Ciphertext ct) => Encoder.DecodeComplex(Decryptor.Decrypt(ct));

    public double[] Decrypt(Ciphertext ct) => Encoder.Decode(Decryptor.Decrypt(ct));

    /// <summary>−log2 of the largest absolute error between the two vectors (complex distance).</summary>
    public static double PrecisionBits(ReadOnlySpan<Complex> actual, ReadOnlySpan<Complex> expected)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Complex.Abs(actual[i] - expected[i]));
        return worst == 0 ? 64 : -Math.Log2(worst);
    }

    public static double PrecisionBits(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        return worst == 0 ? 64 : -Math.Log2(worst);
    }
}
