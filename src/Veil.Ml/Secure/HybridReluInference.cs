using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Veil.Bfv;
using Veil.Ml.Models;
using Veil.Mpc;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Ml.Secure;

/// <summary>A <see cref="ReluMlp"/> in integers: inputs at 2^8, weights at 2^10, so every step is exact integer arithmetic.</summary>
/// <remarks>
/// z₁ = W₁·x + b₁ at scale 2^18, h = max(0, z₁) (no rescaling: ReLU does not care), z₂ = W₂·h + b₂ at scale 2^28, the
/// class the first largest z₂. <see cref="Predict"/> is the plaintext twin of the hybrid protocol, which computes the
/// same integers exactly; the float network may differ where quantization moves a logit across a near tie.
/// </remarks>
public sealed class QuantizedReluMlp
{
    /// <summary>Fractional bits of the inputs.</summary>
    public const int InputBits = 8;
    /// <summary>Fractional bits of the weights.</summary>
    public const int WeightBits = 10;

    /// <summary>The float network quantized.</summary>
    /// <exception cref="ArgumentException">A weight of 16 or more in magnitude.</exception>
    public QuantizedReluMlp(ReluMlp model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.W1.Concat(model.W2).SelectMany(r => r).Any(w => Math.Abs(Math.Round(Math.ScaleB(w, WeightBits))) >= HybridReluInference.MaxQuantizedWeight))
            throw new ArgumentException("A weight of 16 or more in magnitude: the hybrid protocol's noise flooding is sized for smaller ones (regularize the network).", nameof(model));
        W1 = [.. model.W1.Select(r => r.Select(w => Q(w, WeightBits)).ToArray())];
        B1 = [.. model.B1.Select(b => Q(b, InputBits + WeightBits))];
        W2 = [.. model.W2.Select(r => r.Select(w => Q(w, WeightBits)).ToArray())];
        B2 = [.. model.B2.Select(b => Q(b, InputBits + 2 * WeightBits))];
    }

    /// <summary>Hidden × inputs, at 2^10.</summary>
    public long[][] W1 { get; }
    /// <summary>At 2^18.</summary>
    public long[] B1 { get; }
    /// <summary>Outputs × hidden, at 2^10.</summary>
    public long[][] W2 { get; }
    /// <summary>At 2^28.</summary>
    public long[] B2 { get; }
    /// <summary>Inputs.</summary>
    public int Inputs => W1[0].Length;
    /// <summary>Hidden units.</summary>
    public int Hidden => W1.Length;
    /// <summary>Classes.</summary>
    public int Outputs => W2.Length;

    /// <summary>An input in [0, 1] (or any range) at 2^8.</summary>
    public static long EncodeInput(double x) => Q(x, InputBits);

    /// <summary>The logits z₂ (scale 2^28) of a quantized input, in exact integers.</summary>
    public long[] Logits(ReadOnlySpan<long> x)
    {
        var h = new long[Hidden];
        for (int j = 0; j < Hidden; j++)
        {
            long z = B1[j];
            for (int i = 0; i < Inputs; i++) z += W1[j][i] * x[i];
            h[j] = Math.Max(0, z);
        }
        var o = new long[Outputs];
        for (int k = 0; k < Outputs; k++)
        {
            long z = B2[k];
            for (int j = 0; j < Hidden; j++) z += W2[k][j] * h[j];
            o[k] = z;
        }
        return o;
    }

    /// <summary>The class of each row (the first largest logit), in exact integers.</summary>
    public int[] Predict(double[][] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return [.. rows.Select(r =>
        {
            var logits = Logits([.. r.Select(EncodeInput)]);
            int best = 0;
            for (int k = 1; k < logits.Length; k++) if (logits[k] > logits[best]) best = k;
            return best;
        })];
    }

    /// <summary>The largest |z₁| and |z₂| over the rows (they must stay below 2^47 for the protocol).</summary>
    public (long Hidden, long Logits) MaxMagnitudes(double[][] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        long hidden = 0, logits = 0;
        foreach (var r in rows)
        {
            var x = r.Select(EncodeInput).ToArray();
            for (int j = 0; j < Hidden; j++)
            {
                long z = B1[j];
                for (int i = 0; i < Inputs; i++) z += W1[j][i] * x[i];
                hidden = Math.Max(hidden, Math.Abs(z));
            }
            logits = Math.Max(logits, Logits(x).Max(Math.Abs));
        }
        return (hidden, logits);
    }

    private static long Q(double v, int bits) => (long)Math.Round(Math.ScaleB(v, bits));
}

/// <summary>What the client of <see cref="HybridReluInference"/> got, and what it cost it.</summary>
/// <param name="Predictions">The class of each image (known to the client only).</param>
/// <param name="Seconds">Wall time at the client.</param>
/// <param name="HeSeconds">Of which encrypting and decrypting.</param>
/// <param name="Rounds">Rounds of communication.</param>
/// <param name="BytesSent">Bytes the client sent.</param>
public sealed record HybridClientReport(int[] Predictions, double Seconds, double HeSeconds, uint Rounds, long BytesSent);

/// <summary>
/// Inference of a ReLU network between a client who holds the images and a server who holds the network, in the
/// Gazelle/Delphi shape: linear layers under BFV, the exact ReLU and argmax as two-party MPC on additive shares.
/// </summary>
/// <remarks>
/// <para>Linear layers (Cheetah-style coefficient packing, no rotations and no evaluation keys): the client encrypts
/// x as the polynomial Σ x_j X^j under its own BFV secret key (seeded, half-size ciphertexts; t = 2^48, N = 2^13,
/// 128-bit); the server multiplies by a plaintext holding R rows of W reversed, W_ij at X^(i·n + n − 1 − j), so that coefficient i·n + n − 1 of the product
/// is (W·x)_i (R = N/n − 1 rows per product, no wrap-around); it adds the bias and a uniform mask mod t to every
/// coefficient and re-randomizes (a fresh encryption of zero and 116 bits of flooding noise, so nothing of W shows in
/// the ciphertext: see <see cref="FloodBits"/>). The client decrypts a = (W·x + b + 2^47 − r) mod t; the server keeps r: shares mod 2^48.</para>
/// <para>Lifting to Z_2^64: z + 2^47 = a + r − 2^48·[a + r ≥ 2^48], and the wrap bit is 1 − [a &lt; 2^48 − r], one
/// secure comparison of the client's a with the server's 2^48 − r (each its own value: a trivial sharing). Then
/// h = ReLU(z) is exact; for the next layer the client encrypts its share of h mod 2^48 and the server adds its own as a
/// plaintext. The output layer ends in an argmax whose one-hot class is revealed to the client only.</para>
/// <para>Security: semi-honest, as Gazelle. The client learns the classes and the layer shapes; the server learns the
/// number of images. The dealer (a third process in <c>veil mpc demo</c>) serves the comparisons' correlated randomness
/// and sees no value. Cost per image (n inputs, m hidden, c classes): ⌈m/R⌉ + ⌈c/R′⌉ plaintext products and
/// re-randomizations at the server; m + m + c + (c − 1) comparisons.</para>
/// </remarks>
public static class HybridReluInference
{
    /// <summary>The plaintext modulus 2^48: shares mod t embed in Z_2^64.</summary>
    public const int PlainBits = 48;
    /// <summary>
    /// Flooding noise of the re-randomization. With BFV's rounded scaling a plaintext product's noise is (e + δ)·Ŵ, at
    /// most N·(|e| + 1)·2^14 ≈ 2^31.5 for quantized weights below 2^14 (checked); 2^116 hides it to 2^−40 over the 2^13
    /// coefficients of up to 2^30 ciphertexts, below Δ/2 = 2^121.
    /// </summary>
    public const int FloodBits = 116;
    /// <summary>The largest quantized weight (|w| &lt; 16 at 2^10) the flooding is sized for.</summary>
    public const long MaxQuantizedWeight = 1L << 14;
    private const long Offset = 1L << (PlainBits - 1);
    private const ulong T = 1UL << PlainBits;
    // Each exchange carries at most this many ciphertext bytes (the frame limit is 64 MiB).
    private const int MaxBatchBytes = 40 << 20;

    /// <summary>N = 2^13, Q of 60 + 60 + 50 bits, P of 40, t = 2^48: 128-bit, Δ = 2^122 above the 2^117 of flooding.</summary>
    public static BfvParameters Parameters { get; } = BfvParameters.Create(13, [60, 60, 50], [40], T);

    /// <summary>The client's side: classes of its images (each row in [0, 1] per feature), with the server's network shape learnt from it.</summary>
    /// <exception cref="MpcProtocolException">The server or the dealer misbehaved or disconnected.</exception>
    public static async Task<HybridClientReport> ClientAsync(MpcSession session, double[][] images, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(images);
        if (session.Parties != 2 || session.Party != 0) throw new ArgumentException("The client is party 0 of a two-party session.", nameof(session));
        if (images.Length == 0 || images.Any(r => r is null || r.Length != images[0].Length || r.Any(v => !double.IsFinite(v) || Math.Abs(v) > 64)))
            throw new ArgumentException("Images must be rows of one width, finite values of magnitude ≤ 64.", nameof(images));
        var clock = Stopwatch.StartNew();
        var he = new Stopwatch();
        var parameters = Parameters;
        using var keys = BfvContext.Create(parameters, relinearization: false); // linear layers only: no evaluation keys at all
        var shape = await session.ExchangeAsync(Header(images.Length, images[0].Length, RlweSerializer.Save(keys.PublicKey)), 8, cancellationToken).ConfigureAwait(false);
        if (shape.Length != 8) throw new MpcProtocolException("shape", $"The server's answer is {shape.Length} bytes, not 8.");
        int hidden = BinaryPrimitives.ReadInt32LittleEndian(shape), classes = BinaryPrimitives.ReadInt32LittleEndian(shape.AsSpan(4));
        if (hidden < 1 || hidden > ReluMlp.MaxLayerSize || classes < 2 || classes > ReluMlp.MaxLayerSize)
            throw new MpcProtocolException("shape", $"The server announced {hidden} hidden units and {classes} classes.");
        int inputs = images[0].Length;
        // Layer 1: Enc(x) → shares of z₁ + 2^47 mod t.
        var a1 = await LinearAsClientAsync(session, keys, [.. images.Select(r => r.Select(QuantizedReluMlp.EncodeInput).ToArray())], hidden, he, cancellationToken).ConfigureAwait(false);
        var z1 = await LiftAsync(session, a1, cancellationToken).ConfigureAwait(false);
        var h = await SecureComparison.ReluAsync(session, z1, cancellationToken).ConfigureAwait(false);
        // Layer 2: the client's share of h, encrypted; the server adds its own.
        var rows = Enumerable.Range(0, images.Length).Select(i => h.AsSpan(i * hidden, hidden).ToArray().Select(v => (long)(v & (T - 1))).ToArray()).ToArray();
        var a2 = await LinearAsClientAsync(session, keys, rows, classes, he, cancellationToken).ConfigureAwait(false);
        var z2 = await LiftAsync(session, a2, cancellationToken).ConfigureAwait(false);
        var (_, winner) = await SecureComparison.ArgmaxRowsAsync(session, z2, images.Length, classes, cancellationToken).ConfigureAwait(false);
        var opened = await session.RevealToAsync(0, winner, cancellationToken).ConfigureAwait(false);
        var predictions = Enumerable.Range(0, images.Length).Select(i => Array.IndexOf(opened!, 1UL, i * classes, classes) - i * classes).ToArray();
        if (predictions.Any(p => p < 0)) throw new MpcProtocolException("result", "The opened class is not one-hot: a party deviated from the protocol.");
        return new HybridClientReport(predictions, clock.Elapsed.TotalSeconds, he.Elapsed.TotalSeconds, session.Rounds, session.BytesSent);
    }

    /// <summary>The server's side: its network, never shown; it learns the number of images.</summary>
    /// <exception cref="MpcProtocolException">The client or the dealer misbehaved or disconnected, or sent ciphertexts that do not load.</exception>
    public static async Task ServerAsync(MpcSession session, QuantizedReluMlp model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(model);
        if (session.Parties != 2 || session.Party != 1) throw new ArgumentException("The server is party 1 of a two-party session.", nameof(session));
        var answer = new byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(answer, model.Hidden);
        BinaryPrimitives.WriteInt32LittleEndian(answer.AsSpan(4), model.Outputs);
        var hello = await session.ExchangeAsync(answer, 4 << 20, cancellationToken).ConfigureAwait(false);
        if (hello.Length < 8) throw new MpcProtocolException("keys", "The client's first message is too short.");
        int images = BinaryPrimitives.ReadInt32LittleEndian(hello), inputs = BinaryPrimitives.ReadInt32LittleEndian(hello.AsSpan(4));
        if (inputs != model.Inputs) throw new MpcProtocolException("shape", $"The client's images have {inputs} values; the network takes {model.Inputs}.");
        if (images < 1 || images > 1_000_000) throw new MpcProtocolException("shape", $"The client announced {images} images.");
        var parameters = Parameters;
        PublicKey publicKey;
        try { publicKey = RlweSerializer.LoadPublicKey(hello.AsSpan(8), parameters.Ring); }
        catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("keys", $"The client's public key does not load: {e.Message}"); }
        using var context = BfvContext.FromPublicKey(parameters, publicKey);
        var r1 = await LinearAsServerAsync(session, context, model.W1, model.B1, images, null, cancellationToken).ConfigureAwait(false);
        var z1 = await LiftAsync(session, r1, cancellationToken).ConfigureAwait(false);
        var h = await SecureComparison.ReluAsync(session, z1, cancellationToken).ConfigureAwait(false);
        var own = Enumerable.Range(0, images).Select(i => h.AsSpan(i * model.Hidden, model.Hidden).ToArray().Select(v => (long)(v & (T - 1))).ToArray()).ToArray();
        var r2 = await LinearAsServerAsync(session, context, model.W2, model.B2, images, own, cancellationToken).ConfigureAwait(false);
        var z2 = await LiftAsync(session, r2, cancellationToken).ConfigureAwait(false);
        var (_, winner) = await SecureComparison.ArgmaxRowsAsync(session, z2, images, model.Outputs, cancellationToken).ConfigureAwait(false);
        await session.RevealToAsync(0, winner, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Rows per plaintext product for inputs of width n: (R + 1)·n ≤ N keeps the product free of wrap-around.</summary>
    public static int RowsPerProduct(int width) => Math.Max(1, Parameters.N / width - 1);

    // Client: encrypt each row as coefficients, send in batches, decrypt the server's answers and read the outputs' coefficients.
    private static async Task<ulong[]> LinearAsClientAsync(MpcSession session, BfvContext keys, long[][] rows, int outputs, Stopwatch he, CancellationToken cancellationToken)
    {
        int width = rows[0].Length, perProduct = RowsPerProduct(width), blocks = (outputs + perProduct - 1) / perProduct;
        int batch = BatchSize(blocks);
        var result = new ulong[rows.Length * outputs];
        for (int start = 0; start < rows.Length; start += batch)
        {
            int count = Math.Min(batch, rows.Length - start);
            he.Start();
            var cts = Enumerable.Range(start, count).Select(i => RlweSerializer.Save(keys.EncryptSymmetric(keys.Encoder.EncodeCoefficients(rows[i])))).ToList(); // seeded c_1: half the upload
            he.Stop();
            await session.ExchangeAsync(MpcPayload.Pack(cts), 0, cancellationToken).ConfigureAwait(false); // the server sends nothing in this round
            var answer = await session.ExchangeAsync([], MpcFrame.DefaultMaxPayload, cancellationToken).ConfigureAwait(false);
            var back = MpcPayload.Unpack(answer, count * blocks, "answer");
            he.Start();
            for (int i = 0; i < count; i++)
                for (int b = 0; b < blocks; b++)
                {
                    Ciphertext ct;
                    try { ct = RlweSerializer.LoadCiphertext(back[i * blocks + b], keys.Parameters.Ring); }
                    catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("ciphertext", $"The server's ciphertext does not load: {e.Message}"); }
                    var coefficients = keys.DecryptPlaintext(ct).Coefficients;
                    for (int r = 0; r < perProduct && b * perProduct + r < outputs; r++)
                        result[(start + i) * outputs + b * perProduct + r] = coefficients[r * width + width - 1];
                    Array.Clear(coefficients); // the decryption: this party's shares (and masked partial sums)
                }
            he.Stop();
        }
        return result;
    }

    // Server: per row block, Enc(x)·Ŵ + bias + 2^47 − mask, re-randomized; returns the masks at the outputs (its shares).
    private static async Task<ulong[]> LinearAsServerAsync(MpcSession session, BfvContext context, long[][] weights, long[] bias, int images, long[][]? ownShares,
        CancellationToken cancellationToken)
    {
        int outputs = weights.Length, width = weights[0].Length, perProduct = RowsPerProduct(width), blocks = (outputs + perProduct - 1) / perProduct, n = context.Parameters.N;
        var encoder = context.Encoder;
        var packed = Enumerable.Range(0, blocks).Select(b =>
        {
            var coefficients = new long[n];
            for (int r = 0; r < perProduct && b * perProduct + r < outputs; r++)
                for (int j = 0; j < width; j++) coefficients[r * width + width - 1 - j] = weights[b * perProduct + r][j];
            return encoder.ForMultiplication(encoder.EncodeCoefficients(coefficients), context.Parameters.MaxLevel);
        }).ToArray();
        int batch = BatchSize(blocks);
        var masks = new ulong[images * outputs];
        var raw = new byte[8 * n];
        for (int start = 0; start < images; start += batch)
        {
            int count = Math.Min(batch, images - start);
            var request = await session.ExchangeAsync([], MpcFrame.DefaultMaxPayload, cancellationToken).ConfigureAwait(false);
            var inputs = MpcPayload.Unpack(request, count, "request");
            var answers = new List<byte[]>(count * blocks);
            for (int i = 0; i < count; i++)
            {
                Ciphertext x;
                try { x = RlweSerializer.LoadCiphertext(inputs[i], context.Parameters.Ring); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("ciphertext", $"The client's ciphertext does not load: {e.Message}"); }
                if (x.Size != 2 || x.Level != context.Parameters.MaxLevel) throw new MpcProtocolException("ciphertext", "The client's ciphertext is not a fresh two-component encryption.");
                if (ownShares is not null)
                {
                    var share = new long[n];
                    Array.Copy(ownShares[start + i], share, width);
                    x = context.Evaluator.AddPlain(x, encoder.EncodeCoefficients(share), encoder);
                }
                for (int b = 0; b < blocks; b++)
                {
                    RandomNumberGenerator.Fill(raw);
                    var add = new long[n];
                    for (int c = 0; c < n; c++) add[c] = (long)(BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(8 * c)) & (T - 1)); // −mask, uniform mod t
                    for (int r = 0; r < perProduct && b * perProduct + r < outputs; r++)
                    {
                        int o = b * perProduct + r, c = r * width + width - 1;
                        masks[(start + i) * outputs + o] = (T - (ulong)add[c]) & (T - 1);
                        add[c] = (long)(((ulong)add[c] + (ulong)bias[o] + (ulong)Offset) & (T - 1));
                    }
                    var product = context.Evaluator.MultiplyPlain(x, packed[b]);
                    product = context.Evaluator.AddPlain(product, encoder.EncodeCoefficients(add), encoder);
                    answers.Add(RlweSerializer.Save(context.Rerandomize(product, FloodBits)));
                    Array.Clear(add);
                }
            }
            await session.ExchangeAsync(MpcPayload.Pack(answers), 0, cancellationToken).ConfigureAwait(false);
        }
        Array.Clear(raw);
        return masks;
    }

    /// <summary>
    /// From a party's value mod t (the client's a, the server's mask r) to shares of the signed z in Z_2^64: one
    /// comparison for the wrap bit w = 1 − [a &lt; t − r], then z = a + r − t·w − 2^47.
    /// </summary>
    private static async Task<ulong[]> LiftAsync(MpcSession session, ulong[] own, CancellationToken cancellationToken)
    {
        int len = own.Length;
        bool client = session.Party == 0;
        var left = new ulong[len];
        var right = new ulong[len];
        for (int i = 0; i < len; i++)
        {
            if (client) left[i] = own[i];
            else right[i] = T - own[i];
        }
        var less = await SecureComparison.LessThanAsync(session, left, right, cancellationToken).ConfigureAwait(false);
        var z = new ulong[len];
        ulong one = client ? 1UL : 0UL;
        for (int i = 0; i < len; i++)
        {
            ulong wrap = one - less[i];
            z[i] = own[i] - T * wrap - (client ? (ulong)Offset : 0);
        }
        return z;
    }

    private static int BatchSize(int blocks) => Math.Max(1, MaxBatchBytes / (blocks * CiphertextBytes));

    private static int CiphertextBytes => 2 * (Parameters.MaxLevel + 1) * Parameters.N * sizeof(ulong) + 4096;

    private static byte[] Header(int images, int inputs, byte[] publicKey)
    {
        var bytes = new byte[8 + publicKey.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, images);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), inputs);
        publicKey.CopyTo(bytes, 8);
        return bytes;
    }

}
