using Veil.Arithmetic;

namespace Veil.Rlwe;

/// <summary>Decrypts ciphertexts with the secret key: m = Σ c_i·s^i over the ciphertext's primes.</summary>
public sealed class Decryptor
{
    private readonly RlweParameters _parameters;
    private readonly SecretKey _secretKey;

    /// <summary>Creates a decryptor.</summary>
    /// <exception cref="ArgumentException">The key belongs to other parameters.</exception>
    public Decryptor(RlweParameters parameters, SecretKey secretKey)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(secretKey);
        if (!secretKey.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(secretKey), "The secret key belongs to other parameters.");
        _parameters = parameters;
        _secretKey = secretKey;
    }

    /// <summary>Decrypts into a new NTT-form plaintext at the ciphertext's level and scale.</summary>
    public Plaintext Decrypt(Ciphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        var pt = new Plaintext(_parameters, ciphertext.Level, ciphertext.Scale);
        Decrypt(ciphertext, pt);
        return pt;
    }

    /// <summary>Decrypts into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The ciphertext or the destination belongs to other parameters, or the ciphertext is not in NTT form.</exception>
    /// <exception cref="KeyMismatchException">The ciphertext is bound to another key.</exception>
    /// <remarks>Horner's rule: m = c_0 + s·(c_1 + s·(c_2 + …)); the work is the same for every key, so its timing shows nothing of s.</remarks>
    public void Decrypt(Ciphertext ciphertext, Plaintext destination)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(destination);
        if (!ciphertext.Parameters.SameRingAs(_parameters)) ThrowHelper.Argument(nameof(ciphertext), "The ciphertext belongs to other parameters.");
        if (!ciphertext.IsNttForm) ThrowHelper.Argument(nameof(ciphertext), "The ciphertext must be in NTT form.");
        KeyId.Check(ciphertext.KeyId, _secretKey.Id, nameof(ciphertext), "this decryptor's secret key");
        if (!destination.Parameters.SameRingAs(_parameters)) ThrowHelper.Argument(nameof(destination), "The destination plaintext belongs to other parameters.");
        var ring = _parameters.Ring;
        int limbs = ciphertext.Level + 1;
        destination.Resize(ciphertext.Level);
        destination.Scale = ciphertext.Scale;
        destination.IsNttForm = true;
        var m = destination.Data.AsSpan();
        ciphertext.Poly(ciphertext.Size - 1).CopyTo(m);
        var s = _secretKey.Ntt;
        for (int i = ciphertext.Size - 2; i >= 0; i--)
        {
            ring.MulPointwise(m, s, m, 0, limbs);
            ring.Add(m, ciphertext.Poly(i), m, 0, limbs);
        }
    }
}
