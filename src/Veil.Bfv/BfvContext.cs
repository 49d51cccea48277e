using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Bfv;

/// <summary>
/// Parameters, keys, encoder, encryptor, evaluator and (for the key owner) decryptor of BFV in one object; a public
/// context (<see cref="ToPublic"/>) computes but cannot decrypt.
/// </summary>
public sealed class BfvContext : IDisposable
{
    /// <summary>The object type of saved BFV parameters: t (u64) ‖ the RLWE parameters (a Veil object).</summary>
    public static ObjectType ParametersType { get; } = ObjectTypes.Register(Schemes.Bfv, 1, "BfvParameters");

    private readonly SecretKey? _secretKey;
    private readonly BfvDecryptor? _decryptor;
    private readonly Encryptor _encryptor;

    private BfvContext(BfvParameters parameters, PublicKey pk, RelinearizationKey? rk, GaloisKeys? gk, SecretKey? sk)
    {
        Parameters = parameters;
        PublicKey = pk;
        RelinearizationKey = rk;
        GaloisKeys = gk;
        _secretKey = sk;
        Encoder = new BfvEncoder(parameters);
        Evaluator = new BfvEvaluator(parameters, rk, gk);
        _encryptor = new Encryptor(parameters.Ring, pk);
        if (sk is not null) _decryptor = new BfvDecryptor(parameters, sk);
    }

    /// <summary>Makes keys: secret, public, relinearization (unless <paramref name="relinearization"/> is false: for linear work only), and Galois keys for the row rotations given (and the row swap when asked).</summary>
    public static BfvContext Create(BfvParameters parameters, IEnumerable<int>? rotations = null, bool rowSwap = false, bool relinearization = true)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var keygen = new KeyGenerator(parameters.Ring);
        try
        {
            var steps = rotations?.Distinct().ToArray() ?? [];
            var gk = steps.Length > 0 || rowSwap ? keygen.CreateRotationKeys(steps, includeConjugation: rowSwap) : null;
            return new BfvContext(parameters, keygen.CreatePublicKey(), relinearization ? keygen.CreateRelinearizationKey() : null, gk, keygen.SecretKey);
        }
        catch
        {
            keygen.SecretKey.Dispose();
            throw;
        }
    }

    /// <summary>The parameters.</summary>
    public BfvParameters Parameters { get; }
    /// <summary>The encoder.</summary>
    public BfvEncoder Encoder { get; }
    /// <summary>The evaluator (with the relinearization and Galois keys).</summary>
    public BfvEvaluator Evaluator { get; }
    /// <summary>The public key.</summary>
    public PublicKey PublicKey { get; }
    /// <summary>The relinearization key.</summary>
    public RelinearizationKey? RelinearizationKey { get; }
    /// <summary>The Galois keys.</summary>
    public GaloisKeys? GaloisKeys { get; }
    /// <summary>Whether this context lacks the secret key.</summary>
    public bool IsPublic => _secretKey is null;

    /// <summary>The same keys without the secret key, for the computing party.</summary>
    public BfvContext ToPublic() => new(Parameters, PublicKey, RelinearizationKey, GaloisKeys, null);

    /// <summary>A public context from another party's public key alone (no evaluation keys): it encrypts and computes linear functions, never decrypts.</summary>
    /// <exception cref="ArgumentException">The key belongs to other parameters.</exception>
    public static BfvContext FromPublicKey(BfvParameters parameters, PublicKey publicKey)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(publicKey);
        return new BfvContext(parameters, publicKey, null, null, null);
    }

    /// <summary>
    /// Circuit privacy for a result that goes back to the key owner: adds a fresh public-key encryption of zero (so c_1
    /// no longer follows from the owner's own encryption randomness) and a uniform noise in [−2^b, 2^b) to c_0, which
    /// hides the computation's noise (and so the operands that shaped it) statistically when 2^b exceeds that noise's
    /// bound by 2^40 times N times the number of ciphertexts released (smudging). Size the bound with the plaintext
    /// product's term (Q mod t)·⌊m·y/t⌋, up to (Q mod t)·N·t/2 for a uniform m and |y| ≤ t/2, not only e·y. Costs b + 1
    /// bits of the noise budget.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">b outside [1, 190].</exception>
    /// <exception cref="ArgumentException">Not a two-component ciphertext of these parameters.</exception>
    public Ciphertext Rerandomize(Ciphertext ciphertext, int floodBits)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        if (floodBits < 1 || floodBits > 190) throw new ArgumentOutOfRangeException(nameof(floodBits), floodBits, "The flooding noise is 1 … 190 bits.");
        if (ciphertext.Size != 2) throw new ArgumentException($"A ciphertext of {ciphertext.Size} components: relinearize first.", nameof(ciphertext));
        double room = Parameters.Ring.Q.Take(ciphertext.Level + 1).Sum(q => Math.Log2(q)) - Math.Log2(Parameters.PlainModulus) - 1;
        if (floodBits + 2 >= room) throw new ArgumentOutOfRangeException(nameof(floodBits), floodBits, $"2^{floodBits} of flooding does not fit below Δ/2 = 2^{room:F1} at level {ciphertext.Level}.");
        var zero = _encryptor.Encrypt(Encoder.ScaledForEncryption(new BfvPlaintext(Parameters, new ulong[Parameters.N]), ciphertext.Level));
        var result = Evaluator.Add(ciphertext, zero);
        var ring = Parameters.Ring.Ring;
        int n = Parameters.N;
        // Uniform in [−2^b, 2^b) as hi·2^64 + lo: hi uniform in [−2^(b−64), 2^(b−64)) (or 0 … below 2^64), lo uniform 64-bit.
        var hi = new Int128[n];
        var lo = new ulong[n];
        var raw = new byte[24 * n];
        System.Security.Cryptography.RandomNumberGenerator.Fill(raw);
        for (int c = 0; c < n; c++)
        {
            var r = System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(raw.AsSpan(24 * c));
            ulong low = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(24 * c + 16));
            if (floodBits >= 64)
            {
                hi[c] = (Int128)(r & ((UInt128.One << (floodBits - 63)) - 1)) - (Int128.One << (floodBits - 64));
                lo[c] = low;
            }
            else
            {
                long v = (long)(low & ((2UL << floodBits) - 1)) - (1L << floodBits);
                hi[c] = v < 0 ? -1 : 0;
                lo[c] = unchecked((ulong)v);
            }
        }
        Array.Clear(raw);
        var flood = new Plaintext(Parameters.Ring, result.Level, 1.0, isNttForm: result.IsNttForm);
        for (int i = 0; i <= result.Level; i++)
        {
            var q = ring.Moduli[i];
            ulong pow64 = (ulong)((UInt128.One << 64) % q.Value);
            var limb = flood.Limb(i);
            for (int c = 0; c < n; c++)
            {
                // (hi·2^64 + lo) mod q, hi reduced into [0, q) first.
                ulong h = hi[c] >= 0 ? (ulong)(hi[c] % q.Value) : (ulong)((q.Value - (ulong)(-hi[c] % q.Value)) % q.Value);
                limb[c] = (ulong)(((UInt128)h * pow64 + lo[c] % q.Value) % q.Value);
            }
            if (result.IsNttForm) ring.Ntt[i].Forward(limb);
        }
        Array.Clear(hi);
        Array.Clear(lo);
        var flooded = Evaluator.AddPlain(result, flood);
        Array.Clear(flood.Data); // knowing the flood would let the owner subtract it
        return flooded;
    }

    /// <summary>Encrypts a plaintext (public-key encryption at the top level).</summary>
    public Ciphertext Encrypt(BfvPlaintext plaintext) => _encryptor.Encrypt(Encoder.ScaledForEncryption(plaintext, Parameters.MaxLevel));

    /// <summary>Batch-encodes and encrypts up to N signed integers.</summary>
    public Ciphertext Encrypt(ReadOnlySpan<long> values) => Encrypt(Encoder.EncodeBatch(values));

    /// <summary>
    /// Encrypts under the secret key (the key owner's form): c_1 is expanded from a seed, so the saved ciphertext is
    /// about half the size of a public-key one. Noise as fresh as a public-key encryption's, or less.
    /// </summary>
    /// <exception cref="InvalidOperationException">A public context.</exception>
    public Ciphertext EncryptSymmetric(ReadOnlySpan<long> values) => EncryptSymmetric(Encoder.EncodeBatch(values));

    /// <summary>Encrypts a plaintext (batch or coefficient encoded) under the secret key: the seeded, half-size form of <see cref="EncryptSymmetric(ReadOnlySpan{long})"/>.</summary>
    /// <exception cref="InvalidOperationException">A public context.</exception>
    public Ciphertext EncryptSymmetric(BfvPlaintext plaintext)
    {
        if (_secretKey is null) throw new InvalidOperationException("This is a public context: it holds no secret key.");
        _symmetricEncryptor ??= new Encryptor(Parameters.Ring, _secretKey);
        return _symmetricEncryptor.Encrypt(Encoder.ScaledForEncryption(plaintext, Parameters.MaxLevel));
    }

    private Encryptor? _symmetricEncryptor;

    private BfvDecryptor Decryptor => _decryptor ?? throw new InvalidOperationException("This is a public context: it holds no secret key.");

    /// <summary>Decrypts to a plaintext.</summary>
    public BfvPlaintext DecryptPlaintext(Ciphertext ciphertext) => Decryptor.Decrypt(ciphertext);

    /// <summary>Decrypts and batch-decodes to signed integers in (−t/2, t/2].</summary>
    public long[] Decrypt(Ciphertext ciphertext) => Encoder.DecodeBatchSigned(Decryptor.Decrypt(ciphertext));

    /// <summary>Decrypts and batch-decodes to values in [0, t).</summary>
    public ulong[] DecryptUnsigned(Ciphertext ciphertext) => Encoder.DecodeBatch(Decryptor.Decrypt(ciphertext));

    /// <summary>The invariant noise budget of a ciphertext, in bits.</summary>
    public int NoiseBudget(Ciphertext ciphertext) => Decryptor.InvariantNoiseBudget(ciphertext);

    /// <summary>Saves BFV parameters as a Veil object.</summary>
    public static byte[] SaveParameters(BfvParameters parameters, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var ring = RlweSerializer.Save(parameters.Ring);
        var payload = new byte[8 + ring.Length];
        var w = new PayloadWriter(payload);
        w.WriteUInt64(parameters.PlainModulus);
        w.WriteBytes(ring);
        w.EnsureFull();
        return VeilEnvelope.Pack(ParametersType, new byte[VeilHeader.ContextHashSize], payload, compression);
    }

    /// <summary>Loads BFV parameters; the ring must meet <paramref name="minimumSecurity"/>, t is checked like <see cref="BfvParameters.Create(int, IReadOnlyList{ulong}, IReadOnlyList{ulong}, ulong, SecurityLevel)"/>.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, a ring below the minimum, or an invalid t.</exception>
    public static BfvParameters LoadParameters(ReadOnlySpan<byte> bytes, SerializationLimits? limits = null, SecurityLevel minimumSecurity = SecurityLevel.Bits128)
    {
        limits ??= SerializationLimits.Default;
        var body = VeilEnvelope.Unpack(bytes, ParametersType, new byte[VeilHeader.ContextHashSize], default, limits, 8 + 2048, out _, out _);
        var r = new PayloadReader(body);
        ulong t = r.ReadUInt64("plainModulus");
        var ring = RlweSerializer.LoadParameters(body[8..], limits, minimumSecurity);
        try { return BfvParameters.Create(ring.LogN, ring.Q, ring.P, t, minimumSecurity); }
        catch (ArgumentException e) { throw new VeilFormatException("plainModulus", e.Message, e); }
    }

    /// <summary>Clears the secret key.</summary>
    public void Dispose() => _secretKey?.Dispose();
}
