using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// Everything one party needs to work with ciphertexts: parameters, public and evaluation keys, encoder and evaluator,
/// and — only for the key owner — the secret key. A public context (no secret key) can encrypt and compute but not
/// decrypt, and says so.
/// </summary>
public sealed class CkksContext : IDisposable
{
    private readonly SecretKey? _secretKey;
    private readonly Decryptor? _decryptor;

    /// <summary>The parameters.</summary>
    public CkksParameters Parameters { get; }
    /// <summary>The public key.</summary>
    public PublicKey PublicKey { get; }
    /// <summary>The relinearization key.</summary>
    public RelinearizationKey RelinearizationKey { get; }
    /// <summary>The Galois keys for the rotations the computation needs.</summary>
    public GaloisKeys GaloisKeys { get; }
    /// <summary>Encoder (one per context; not thread-safe).</summary>
    public CkksEncoder Encoder { get; }
    /// <summary>Public-key encryptor.</summary>
    public Encryptor Encryptor { get; }
    /// <summary>The evaluator holding the evaluation keys.</summary>
    public CkksEvaluator Evaluator { get; }
    /// <summary>Whether this context holds no secret key.</summary>
    public bool IsPublic => _secretKey is null;

    private CkksContext(CkksParameters parameters, PublicKey pk, RelinearizationKey rk, GaloisKeys gk, SecretKey? sk)
    {
        Parameters = parameters;
        PublicKey = pk;
        RelinearizationKey = rk;
        GaloisKeys = gk;
        _secretKey = sk;
        Encoder = new CkksEncoder(parameters);
        Encryptor = new Encryptor(parameters.Ring, pk);
        Evaluator = new CkksEvaluator(parameters, rk, gk);
        if (sk is not null) _decryptor = new Decryptor(parameters.Ring, sk);
    }

    /// <summary>A key owner's context: fresh keys, with Galois keys for exactly the given rotation steps.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="rotationSteps">The rotations the computation needs.</param>
    /// <param name="releaseBudget">How many results decrypted for others (<see cref="Release"/>) the key allows; the
    /// flooding noise of each grows with √budget, so a context made for a few shared results should say so.</param>
    public static CkksContext Create(CkksParameters parameters, IEnumerable<int> rotationSteps, int releaseBudget = DecryptionBudget.DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(rotationSteps);
        var keygen = new KeyGenerator(parameters.Ring, releaseBudget);
        return new CkksContext(parameters, keygen.CreatePublicKey(), keygen.CreateRelinearizationKey(),
            keygen.CreateRotationKeys(rotationSteps.Distinct()), keygen.SecretKey);
    }

    /// <summary>The same context without the secret key, to hand to a computing party.</summary>
    public CkksContext ToPublic() => new(Parameters, PublicKey, RelinearizationKey, GaloisKeys, null);

    /// <summary>Encrypts real values at the default scale and the top level.</summary>
    public Ciphertext Encrypt(ReadOnlySpan<double> values) => Encryptor.Encrypt(Encoder.Encode(values));

    /// <summary>Decrypts and decodes the real parts of all slots, for the key owner's own use.</summary>
    /// <remarks>
    /// Exact, and safe only while the values stay with the key owner: each decrypted value carries the ciphertext's
    /// error, which is a function of the secret key, so values handed to another party, published or printed as a
    /// shared result go through <see cref="Release"/> instead. The decrypted plaintext is wiped before returning.
    /// </remarks>
    /// <exception cref="InvalidOperationException">This is a public context: it holds no secret key.</exception>
    public double[] Decrypt(Ciphertext ciphertext)
    {
        if (_decryptor is null) throw new InvalidOperationException("This is a public context: it holds no secret key and cannot decrypt.");
        var plaintext = _decryptor.Decrypt(ciphertext);
        try { return Encoder.Decode(plaintext); }
        finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(plaintext.Data.AsSpan())); }
    }

    /// <summary>Decrypts only slots [start, start + count), for the key owner's own use (see <see cref="Decrypt(Ciphertext)"/>).</summary>
    /// <exception cref="InvalidOperationException">This is a public context.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the slots.</exception>
    public double[] Decrypt(Ciphertext ciphertext, int start, int count)
    {
        if (start < 0 || count < 0 || (long)start + count > Parameters.Slots)
            throw new ArgumentOutOfRangeException(nameof(count), $"Slots [{start}, {(long)start + count}) are outside [0, {Parameters.Slots}).");
        var all = Decrypt(ciphertext);
        try { return all.AsSpan(start, count).ToArray(); }
        finally { Array.Clear(all); }
    }

    /// <summary>
    /// Decrypts slots [start, start + count) for a result that leaves the key owner: flooded against key recovery
    /// and counted against the key's release budget (<see cref="CkksReleaseDecryptor"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">This is a public context, or the flooding leaves too little precision.</exception>
    /// <exception cref="DecryptionBudgetExhaustedException">The key's release budget is spent.</exception>
    public ReleasedValues Release(Ciphertext ciphertext, int start, int count, ReleasePolicy? policy = null)
    {
        if (_secretKey is null) throw new InvalidOperationException("This is a public context: it holds no secret key and cannot decrypt.");
        return new CkksReleaseDecryptor(Parameters, _secretKey, policy).Decrypt(ciphertext, start, count);
    }

    /// <summary>The secret key's release budget (null in a public context).</summary>
    public DecryptionBudget? ReleaseBudget => _secretKey?.ReleaseBudget;

    /// <summary>Clears the secret key, if any.</summary>
    public void Dispose() => _secretKey?.Dispose();
}

/// <summary>Chooses CKKS parameters for a circuit from its multiplicative depth and the slots it needs.</summary>
public static class ParameterSelector
{
    /// <summary>
    /// The smallest ring (N = 2^13 … 2^16) whose bound for <paramref name="security"/> fits a 60-bit first prime,
    /// <paramref name="depth"/> scale-sized primes and 60-bit special primes, with at least <paramref name="slots"/> slots.
    /// </summary>
    /// <remarks>
    /// Special primes: about one per eight chain primes (up to 4), so that key switching lifts at most ~8 digits —
    /// fewer digits mean smaller keys and faster switching, at the price of modulus bits. Scale: the largest that fits,
    /// up to 2^40 (or exactly <paramref name="logScale"/> when given); at least 2^28 unless asked otherwise.
    /// </remarks>
    /// <exception cref="ArgumentException">No supported ring fits the request.</exception>
    public static CkksParametersLiteral Select(int depth, int slots, int? logScale = null, SecurityLevel security = SecurityLevel.Bits128)
    {
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(depth), "Depth must be at least 1.");
        if (logScale is < 20 or > 50) throw new ArgumentOutOfRangeException(nameof(logScale), "logScale must be in [20, 50].");
        const int minimumScale = 28, maximumScale = 40;
        for (int logN = 13; logN <= 16; logN++)
        {
            if ((1 << (logN - 1)) < slots) continue;
            int? max = HomomorphicEncryptionStandard.MaxLogQP(logN, security);
            if (max is null) continue;
            for (int special = Math.Clamp((depth + 1 + 7) / 8, 1, 4); special >= 1; special--)
            {
                int fits = (max.Value - 60 - 60 * special) / depth;
                int chosen = logScale ?? Math.Min(maximumScale, fits);
                if (chosen > fits || chosen < (logScale ?? minimumScale)) continue;
                return new CkksParametersLiteral
                {
                    LogN = logN,
                    LogQ = [60, .. Enumerable.Repeat(chosen, depth)],
                    LogP = [.. Enumerable.Repeat(60, special)],
                    LogDefaultScale = chosen,
                    Security = security,
                };
            }
        }
        throw new ArgumentException($"No ring up to N = 2^16 holds depth {depth} with {slots} slots at {security} and a scale of at least 2^{logScale ?? minimumScale}.");
    }
}
