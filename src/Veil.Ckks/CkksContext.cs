using Veil.Ckks;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Ckks;

/// <summary>How long operations run: threads, and a token that stops them.</summary>
public sealed record ExecutionOptions
{
    /// <summary>The defaults: every processor, no cancellation.</summary>
    public static ExecutionOptions Default { get; } = new();

    /// <summary>Threads inside one operation (key switching, key generation, encoding).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 1.</exception>
    public int MaxDegreeOfParallelism
    {
        get;
        init
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), value, "At least one thread.");
            field = value;
        }
    } = Environment.ProcessorCount;

    /// <summary>Checked by every evaluator operation and between generated keys: once signalled, work stops with <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken Cancellation { get; init; }
}

/// <summary>
/// Everything one party needs to work with CKKS ciphertexts: parameters, public and evaluation keys, encoder, encryptor
/// and evaluator, and — only for the key owner — the secret key. A public context (no secret key) can encrypt and compute
/// but not decrypt. Contexts travel: the owner saves the public form (<see cref="SavePublic(Compression)"/>) for the
/// computing party, which loads it in another process (<see cref="Load(ReadOnlySpan{byte}, SerializationLimits?, SecurityLevel, ExecutionOptions?)"/>)
/// or builds one from received keys (<see cref="FromKeys"/>).
/// </summary>
public sealed class CkksContext : IDisposable
{
    /// <summary>The object type of a saved public context (parameters and public and evaluation keys).</summary>
    public static ObjectType PublicType { get; } = ObjectTypes.Register(Schemes.Ckks, 2, "CkksPublicContext");
    /// <summary>The object type of a saved private context (the public one and the secret key).</summary>
    public static ObjectType PrivateType { get; } = ObjectTypes.Register(Schemes.Ckks, 3, "CkksPrivateContext");

    private static readonly byte[] NoHash = new byte[VeilHeader.ContextHashSize];
    private readonly SecretKey? _secretKey;
    private readonly Decryptor? _decryptor;

    /// <summary>The parameters.</summary>
    public CkksParameters Parameters { get; }
    /// <summary>The public key.</summary>
    public PublicKey PublicKey { get; }
    /// <summary>The relinearization key, if the computation multiplies ciphertexts.</summary>
    public RelinearizationKey? RelinearizationKey { get; }
    /// <summary>The Galois keys for the rotations the computation needs, if any.</summary>
    public GaloisKeys? GaloisKeys { get; }
    /// <summary>Encoder (one per context; each thread uses its own buffers).</summary>
    public CkksEncoder Encoder { get; }
    /// <summary>Public-key encryptor.</summary>
    public Encryptor Encryptor { get; }
    /// <summary>The evaluator holding the evaluation keys.</summary>
    public CkksEvaluator Evaluator { get; }
    /// <summary>Threads and cancellation of this context's operations.</summary>
    public ExecutionOptions Options { get; }
    /// <summary>Whether this context holds no secret key.</summary>
    public bool IsPublic => _secretKey is null;

    private CkksContext(CkksParameters parameters, PublicKey pk, RelinearizationKey? rk, GaloisKeys? gk, SecretKey? sk, ExecutionOptions? options)
    {
        Parameters = parameters;
        PublicKey = pk;
        RelinearizationKey = rk;
        GaloisKeys = gk;
        _secretKey = sk;
        Options = options ?? ExecutionOptions.Default;
        int threads = Options.MaxDegreeOfParallelism;
        Encoder = new CkksEncoder(parameters) { MaxDegreeOfParallelism = threads };
        Encryptor = new Encryptor(parameters.Ring, pk) { MaxDegreeOfParallelism = threads };
        Evaluator = new CkksEvaluator(parameters, rk, gk) { MaxDegreeOfParallelism = threads, Cancellation = Options.Cancellation };
        if (sk is not null) _decryptor = new Decryptor(parameters.Ring, sk);
    }

    /// <summary>A key owner's context: fresh keys, with Galois keys for exactly the given rotation steps.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="rotationSteps">The rotations the computation needs.</param>
    /// <param name="releaseBudget">How many results decrypted for others (<see cref="Release"/>) the key allows; the
    /// flooding noise of each grows with √budget, so a context made for a few shared results should say so.</param>
    /// <param name="options">Threads and cancellation (key generation honours both).</param>
    /// <param name="conjugation">Whether to add the conjugation key (bootstrapping needs it).</param>
    /// <param name="secretHammingWeight">A sparse main secret with exactly this many nonzero coefficients — only for
    /// parameters built with <see cref="SecurityLevel.InsecureNoCheck"/> (tests), since the security check assumes a dense
    /// secret; secure bootstrapping keeps the dense secret and uses <see cref="CreateEncapsulation"/>. Null: dense.</param>
    /// <exception cref="OperationCanceledException">The options' token was signalled during key generation.</exception>
    public static CkksContext Create(CkksParameters parameters, IEnumerable<int> rotationSteps, int releaseBudget = DecryptionBudget.DefaultLimit,
        ExecutionOptions? options = null, bool conjugation = false, int? secretHammingWeight = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(rotationSteps);
        options ??= ExecutionOptions.Default;
        if (secretHammingWeight is not null && parameters.Ring.Security != SecurityLevel.InsecureNoCheck)
            throw new ArgumentException("A sparse main secret is not covered by the security check (it assumes a dense ternary secret): keep the dense secret and " +
                "bootstrap with CreateEncapsulation, or build the parameters with SecurityLevel.InsecureNoCheck explicitly.", nameof(secretHammingWeight));
        var generator = secretHammingWeight is { } h ? KeyGenerator.WithSparseSecret(parameters.Ring, h, releaseBudget) : new KeyGenerator(parameters.Ring, releaseBudget);
        var keygen = new KeyGenerator(parameters.Ring, generator.SecretKey) { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism, Cancellation = options.Cancellation };
        try
        {
            return new CkksContext(parameters, keygen.CreatePublicKey(), keygen.CreateRelinearizationKey(),
                keygen.CreateRotationKeys(rotationSteps.Distinct(), conjugation), keygen.SecretKey, options);
        }
        catch
        {
            keygen.SecretKey.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A context from keys received or loaded elsewhere: a computing party's (no secret key), or the owner's when
    /// <paramref name="secretKey"/> is given (the context then owns it and clears it on <see cref="Dispose"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A key belongs to other parameters.</exception>
    public static CkksContext FromKeys(CkksParameters parameters, PublicKey publicKey, RelinearizationKey? relinearizationKey = null,
        GaloisKeys? galoisKeys = null, SecretKey? secretKey = null, ExecutionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(publicKey);
        if (!publicKey.Parameters.SameRingAs(parameters.Ring)) throw new ArgumentException("The public key belongs to other parameters.", nameof(publicKey));
        if (secretKey is not null && !secretKey.Parameters.SameRingAs(parameters.Ring)) throw new ArgumentException("The secret key belongs to other parameters.", nameof(secretKey));
        return new CkksContext(parameters, publicKey, relinearizationKey, galoisKeys, secretKey, options);
    }

    /// <summary>The same context without the secret key, to hand to a computing party.</summary>
    public CkksContext ToPublic() => new(Parameters, PublicKey, RelinearizationKey, GaloisKeys, null, Options);

    /// <summary>The same keys with other execution options.</summary>
    public CkksContext WithOptions(ExecutionOptions options) => new(Parameters, PublicKey, RelinearizationKey, GaloisKeys, _secretKey, options);

    /// <summary>Encrypts real values at the default scale and the top level.</summary>
    public Ciphertext Encrypt(ReadOnlySpan<double> values) => Encryptor.Encrypt(Encoder.Encode(values));

    /// <summary>
    /// Encrypts under the secret key (the key owner only): c_1 travels as a seed, so the serialized ciphertext is half
    /// the size of a public-key one — for uploads from the owner to a computing party.
    /// </summary>
    /// <exception cref="InvalidOperationException">This is a public context.</exception>
    public Ciphertext EncryptSymmetric(ReadOnlySpan<double> values)
    {
        if (_secretKey is null) throw new InvalidOperationException("This is a public context: only the key owner encrypts under the secret key.");
        var encryptor = _symmetric ?? Interlocked.CompareExchange(ref _symmetric, new Encryptor(Parameters.Ring, _secretKey) { MaxDegreeOfParallelism = Options.MaxDegreeOfParallelism }, null) ?? _symmetric!;
        return encryptor.Encrypt(Encoder.Encode(values));
    }

    private Encryptor? _symmetric;

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

    /// <summary>Decrypts and decodes all slots as complex values, for the key owner's own use (see <see cref="Decrypt(Ciphertext)"/>).</summary>
    /// <exception cref="InvalidOperationException">This is a public context: it holds no secret key.</exception>
    public System.Numerics.Complex[] DecryptComplex(Ciphertext ciphertext)
    {
        if (_decryptor is null) throw new InvalidOperationException("This is a public context: it holds no secret key and cannot decrypt.");
        var plaintext = _decryptor.Decrypt(ciphertext);
        try { return Encoder.DecodeComplex(plaintext); }
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

    /// <summary>
    /// Bootstrapping's sparse-secret encapsulation keys (the key owner only): an ephemeral secret of weight
    /// <paramref name="ephemeralHammingWeight"/> and the keys to and from it, to ship with the evaluation keys.
    /// </summary>
    /// <exception cref="InvalidOperationException">This is a public context.</exception>
    public SparseSecretEncapsulation CreateEncapsulation(int ephemeralHammingWeight = 32)
    {
        if (_secretKey is null) throw new InvalidOperationException("This is a public context: only the key owner makes encapsulation keys.");
        return SparseSecretEncapsulation.Create(_secretKey, ephemeralHammingWeight);
    }

    /// <summary>The secret key's release budget (null in a public context).</summary>
    public DecryptionBudget? ReleaseBudget => _secretKey?.ReleaseBudget;

    // ---------------------------------------------------------------- saving and loading

    /// <summary>
    /// The public form — parameters, public key and the evaluation keys present — as one Veil object of type
    /// <see cref="PublicType"/>, for the computing party.
    /// </summary>
    public byte[] SavePublic(Compression compression = Compression.None) =>
        VeilEnvelope.Pack(PublicType, NoHash, Body(compression, includeSecret: false), Compression.None);

    /// <summary>
    /// The private form — the public form and the secret key — sealed by <paramref name="protector"/> (Veil.Protection:
    /// a keyring, or recipients), the way a private context is stored or sent.
    /// </summary>
    /// <exception cref="InvalidOperationException">This is a public context.</exception>
    public byte[] SavePrivate(ISecretProtector protector, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(protector);
        var plain = SavePrivateUnprotected(compression);
        try { return protector.Protect(plain, PrivateType); }
        finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain); }
    }

    /// <summary>
    /// The private form in the clear, one Veil object of type <see cref="PrivateType"/>. Whoever holds these bytes can
    /// decrypt everything: store them only sealed (<see cref="SavePrivate(ISecretProtector, Compression)"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">This is a public context.</exception>
    public byte[] SavePrivateUnprotected(Compression compression = Compression.None)
    {
        if (_secretKey is null) throw new InvalidOperationException("This is a public context: it holds no secret key to save.");
        var body = Body(compression, includeSecret: true);
        try { return VeilEnvelope.Pack(PrivateType, NoHash, body, Compression.None, sensitive: true); }
        finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(body); }
    }

    /// <summary>parameters ‖ public key ‖ flags u8 (1: relinearization key, 2: Galois keys) ‖ those keys ‖ (private) secret key, each a Veil object.</summary>
    private byte[] Body(Compression compression, bool includeSecret)
    {
        using var stream = new MemoryStream();
        Veil.Ckks.Serialization.CkksSerializer.Save(Parameters, stream, compression);
        RlweSerializer.Save(PublicKey, stream, compression);
        stream.WriteByte((byte)((RelinearizationKey is null ? 0 : 1) | (GaloisKeys is null ? 0 : 2)));
        if (RelinearizationKey is not null) RlweSerializer.Save(RelinearizationKey, stream, compression);
        if (GaloisKeys is not null) RlweSerializer.Save(GaloisKeys, stream, compression);
        if (includeSecret) RlweSerializer.SaveUnprotected(_secretKey!, stream, compression);
        var result = stream.ToArray();
        if (includeSecret) System.Security.Cryptography.CryptographicOperations.ZeroMemory(stream.GetBuffer());
        return result;
    }

    /// <summary>Loads a context, opening it with <paramref name="protector"/> when it is sealed (public contexts are not).</summary>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A sealed context the protector cannot open.</exception>
    /// <exception cref="VeilFormatException">Malformed bytes (see <see cref="Load(ReadOnlySpan{byte}, SerializationLimits?, SecurityLevel, ExecutionOptions?)"/>).</exception>
    public static CkksContext Load(ReadOnlySpan<byte> bytes, ISecretProtector protector, SerializationLimits? limits = null,
        SecurityLevel minimumSecurity = SecurityLevel.Bits128, ExecutionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(protector);
        if (!protector.IsProtected(bytes)) return Load(bytes, limits, minimumSecurity, options);
        var plain = protector.Unprotect(bytes, PrivateType);
        try { return Load(plain, limits, minimumSecurity, options); }
        finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain); }
    }

    /// <summary>
    /// Loads a saved context, public or private: every object inside goes through its hardened loader, against the
    /// parameters it holds, which must meet <paramref name="minimumSecurity"/>.
    /// </summary>
    /// <exception cref="VeilFormatException">Malformed bytes, objects of other parameters, a level below the minimum, or
    /// limits exceeded.</exception>
    public static CkksContext Load(ReadOnlySpan<byte> bytes, SerializationLimits? limits = null, SecurityLevel minimumSecurity = SecurityLevel.Bits128,
        ExecutionOptions? options = null)
    {
        limits ??= SerializationLimits.Default;
        if (bytes.StartsWith("VEILPROT"u8))
            throw new VeilFormatException("magic", "A sealed private context: load it with the ISecretProtector that sealed it.");
        bool isPrivate = bytes.Length >= VeilHeader.Size && bytes.StartsWith(VeilHeader.Magic) && System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]) == PrivateType.Kind
                         && System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]) == PrivateType.Scheme;
        byte[]? decompressed = null;
        var body = VeilEnvelope.Unpack(bytes, isPrivate ? PrivateType : PublicType, NoHash, default, limits, limits.MaxObjectBytes,
            out decompressed, out _, sensitive: isPrivate);
        var copy = body.ToArray();
        using var stream = new MemoryStream(copy, writable: false);
        try
        {
            var parameters = Veil.Ckks.Serialization.CkksSerializer.LoadParameters(stream, limits, minimumSecurity);
            var pk = RlweSerializer.LoadPublicKey(stream, parameters.Ring, limits);
            int flags = stream.ReadByte();
            if (flags < 0 || flags > 3) throw new VeilFormatException("keys", flags < 0 ? "The context ends before its key flags." : $"Unknown key flags {flags}.");
            var rk = (flags & 1) != 0 ? RlweSerializer.LoadRelinearizationKey(stream, parameters.Ring, limits) : null;
            var gk = (flags & 2) != 0 ? RlweSerializer.LoadGaloisKeys(stream, parameters.Ring, limits) : null;
            var sk = isPrivate ? RlweSerializer.LoadSecretKey(stream, parameters.Ring, limits) : null;
            if (stream.Position != stream.Length)
            {
                sk?.Dispose();
                throw new VeilFormatException("trailing", $"{stream.Length - stream.Position} bytes follow the context's last key.");
            }
            return new CkksContext(parameters, pk, rk, gk, sk, options);
        }
        finally
        {
            if (isPrivate) System.Security.Cryptography.CryptographicOperations.ZeroMemory(copy);
            if (decompressed is not null) System.Security.Cryptography.CryptographicOperations.ZeroMemory(decompressed);
        }
    }

    /// <summary>Clears the secret key, if any.</summary>
    public void Dispose() => _secretKey?.Dispose();
}
