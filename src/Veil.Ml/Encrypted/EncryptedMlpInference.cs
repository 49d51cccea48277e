using Veil.Ckks;
using Veil.Circuits;
using Veil.Ml.Models;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// Inference of a <see cref="SquareMlp"/> on encrypted inputs: batched (CryptoNets: one ciphertext per input feature,
/// one image per slot) and single-image (one ciphertext, layers as baby-step giant-step linear transforms).
/// </summary>
/// <remarks>
/// Depth 3 either way (linear, square, linear). The client encrypts and decrypts; the server holds the plaintext
/// weights and a public context. Batched: S images per ciphertext set, |W1| + |W2| scalar multiplications and
/// `hidden` ciphertext squarings per batch. Single image: the input repeated with period n = next power of two of
/// max(input, hidden); two <see cref="LinearTransform"/>s and one squaring; the server's rotation keys are exactly
/// those the transforms list.
/// </remarks>
public sealed class EncryptedMlpInference
{
    private readonly SquareMlp _network;
    private readonly LinearTransform _first, _second;
    private readonly int _period;

    /// <summary>The network.</summary>
    public SquareMlp Network => _network;

    /// <summary>Prepares both modes for parameters with <paramref name="slots"/> slots.</summary>
    public EncryptedMlpInference(SquareMlp network, int slots)
    {
        ArgumentNullException.ThrowIfNull(network);
        _network = network;
        _period = EncryptedVector.PeriodFor(Math.Max(network.Inputs, Math.Max(network.Hidden, network.Outputs)));
        // Both layers as square period × period matrices so that input, hidden and output share one packing.
        _first = LinearTransform.MatrixVector(Pad(network.W1, _period), slots);
        _second = LinearTransform.MatrixVector(Pad(network.W2, _period), slots);
    }

    private static double[][] Pad(double[][] m, int n) =>
        Enumerable.Range(0, n).Select(r => Enumerable.Range(0, n).Select(c => r < m.Length && c < m[r].Length ? m[r][c] : 0).ToArray()).ToArray();

    /// <summary>Parameters for depth 3 at 128-bit: N = 8192, Q = {60, 32 × 3}, P = {60}.</summary>
    public static CkksParametersLiteral DefaultParameters => ParameterSelector.Select(depth: 3, slots: 4096);

    /// <summary>Rotation steps the single-image mode needs.</summary>
    public IReadOnlyList<int> RequiredRotations => _first.RequiredRotations.Union(_second.RequiredRotations).ToArray();

    /// <summary>Client: one ciphertext per input feature, image i in slot i.</summary>
    public IReadOnlyList<Ciphertext> EncryptBatch(CkksContext client, double[][] images)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(images);
        if (images.Length == 0 || images.Length > client.Parameters.Slots) throw new ArgumentException($"A batch holds 1 … {client.Parameters.Slots} images.", nameof(images));
        return Enumerable.Range(0, _network.Inputs).Select(i => client.Encrypt(images.Select(img => img[i]).ToArray())).ToArray();
    }

    /// <summary>Server: the logits, one ciphertext per class, image i in slot i.</summary>
    public IReadOnlyList<Ciphertext> EvaluateBatch(CkksContext server, IReadOnlyList<Ciphertext> inputs)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(inputs);
        var ev = server.Evaluator;
        var hidden = new Ciphertext[_network.Hidden];
        for (int j = 0; j < hidden.Length; j++)
        {
            // Σ_i W1[j,i]·x_i + b1[j], fused into one accumulator, rescaled back to the inputs' scale.
            var acc = ev.LinearCombination(inputs, _network.W1[j], _network.B1[j]);
            var square = ev.Square(acc);
            ev.Relinearize(square, square);
            ev.Rescale(square, square);
            hidden[j] = square;
        }
        var logits = new Ciphertext[_network.Outputs];
        for (int k = 0; k < logits.Length; k++)
        {
            logits[k] = ev.LinearCombination(hidden, _network.W2[k], _network.B2[k]);
        }
        return logits;
    }

    /// <summary>Client: the predicted class of each image of the batch.</summary>
    public double[] DecryptBatch(CkksContext client, IReadOnlyList<Ciphertext> logits, int count)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(logits);
        var values = logits.Select(client.Decrypt).ToArray();
        return Enumerable.Range(0, count).Select(i => (double)SquareMlp.ArgMax(values.Select(v => v[i]).ToArray())).ToArray();
    }

    /// <summary>Client: one image in one ciphertext, repeated with the transforms' period.</summary>
    public Ciphertext EncryptSingle(CkksContext client, double[] image)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(image);
        int slots = client.Parameters.Slots;
        var packed = new double[slots];
        for (int s = 0; s < slots; s++) packed[s] = s % _period < image.Length ? image[s % _period] : 0;
        return client.Encrypt(packed);
    }

    /// <summary>Server: the logits of one image in slots 0 … classes − 1.</summary>
    public Ciphertext EvaluateSingle(CkksContext server, Ciphertext image)
    {
        ArgumentNullException.ThrowIfNull(server);
        var ev = server.Evaluator;
        int slots = server.Parameters.Slots;
        var z = _first.Apply(ev, server.Encoder, image);
        var bias1 = Enumerable.Range(0, slots).Select(s => s % _period < _network.Hidden ? _network.B1[s % _period] : 0).ToArray();
        ev.AddValues(z, bias1, server.Encoder, z);
        var h = ev.Square(z);
        ev.Relinearize(h, h);
        ev.Rescale(h, h);
        var o = _second.Apply(ev, server.Encoder, h);
        var bias2 = Enumerable.Range(0, slots).Select(s => s % _period < _network.Outputs ? _network.B2[s % _period] : 0).ToArray();
        ev.AddValues(o, bias2, server.Encoder, o);
        return o;
    }

    /// <summary>Client: the predicted class of a single image.</summary>
    public double DecryptSingle(CkksContext client, Ciphertext logits)
    {
        ArgumentNullException.ThrowIfNull(client);
        return SquareMlp.ArgMax(client.Decrypt(logits).AsSpan(0, _network.Outputs));
    }
}
