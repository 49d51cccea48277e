using Veil.Serialization;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Ckks.Serialization;

/// <summary>
/// Serialization of CKKS parameter sets: the RLWE ring (re-validated on load, security check included) and the
/// default scale, in the same hardened envelope as every other Veil object. Ciphertexts, plaintexts and keys go
/// through <see cref="RlweSerializer"/>.
/// </summary>
/// <remarks>Object type (CKKS, 1). Payload: RLWE parameters ‖ log2 of the default scale f64; version 1 wrote them as
/// RLWE parameters (kind 1) with a scheme byte (1 = CKKS) in front, and still loads.</remarks>
public static class CkksSerializer
{
    private const byte SchemeCkks = 1;

    /// <summary>The object type of a CKKS parameter set.</summary>
    public static ObjectType ParametersType { get; } = ObjectTypes.Register(Schemes.Ckks, 1, "CkksParameters");

    private static readonly byte[] NoHash = new byte[VeilHeader.ContextHashSize];

    /// <summary>Serializes a parameter set.</summary>
    public static byte[] Save(CkksParameters parameters, Compression compression = Compression.None)
    {
        var payload = Payload(parameters);
        return VeilEnvelope.Pack(ParametersType, NoHash, payload, compression);
    }

    /// <summary>Serializes a parameter set to a stream.</summary>
    public static void Save(CkksParameters parameters, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(Save(parameters, compression));
    }

    /// <summary>
    /// Loads a parameter set. The security level the bytes declare must be at least <paramref name="minimumSecurity"/>
    /// (the receiver's choice, 128-bit by default) and the primes are checked against it: received bytes never lower
    /// security.
    /// </summary>
    /// <param name="bytes">Exactly one serialized object.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <param name="minimumSecurity">The lowest level this receiver accepts; only code can pass
    /// <see cref="SecurityLevel.InsecureNoCheck"/>, never the sender.</param>
    /// <exception cref="VeilFormatException">Malformed bytes, parameters beyond the limits, a level below
    /// <paramref name="minimumSecurity"/> (field "security"), or an invalid set (field "parameters").</exception>
    public static CkksParameters LoadParameters(ReadOnlySpan<byte> bytes, SerializationLimits? limits = null,
        SecurityLevel minimumSecurity = SecurityLevel.Bits128) =>
        Read(VeilEnvelope.Unpack(bytes, ParametersType, NoHash, default, limits, RlweSerializer.MaxParametersBytes, out _, out ushort version), limits, minimumSecurity, version);

    /// <summary>Loads a parameter set from a stream (header first, then exactly the bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <param name="minimumSecurity">The lowest level this receiver accepts.</param>
    /// <exception cref="VeilFormatException">Malformed or truncated bytes, a level below <paramref name="minimumSecurity"/>, or an invalid set.</exception>
    public static CkksParameters LoadParameters(Stream stream, SerializationLimits? limits = null, SecurityLevel minimumSecurity = SecurityLevel.Bits128)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Read(VeilEnvelope.Unpack(stream, ParametersType, NoHash, default, limits, RlweSerializer.MaxParametersBytes, out ushort version), limits, minimumSecurity, version);
    }

    private static byte[] Payload(CkksParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var ring = parameters.Ring;
        var payload = new byte[RlweSerializer.ParametersPayloadBytes(ring.Q.Count, ring.P.Count) + 8];
        var w = new PayloadWriter(payload);
        RlweSerializer.WriteParameters(ref w, ring);
        w.WriteDouble(parameters.Literal.LogDefaultScale);
        w.EnsureFull();
        return payload;
    }

    private static CkksParameters Read(ReadOnlySpan<byte> payload, SerializationLimits? limits, SecurityLevel minimumSecurity, ushort version)
    {
        var r = new PayloadReader(payload);
        if (version == 1)
        {
            byte scheme = r.ReadByte("scheme");
            if (scheme != SchemeCkks) throw new VeilFormatException("scheme", $"Expected CKKS parameters (scheme 1); got scheme {scheme}.");
        }
        double logScale;
        var ring = RlweSerializer.ReadParameters(ref r, limits, minimumSecurity);
        logScale = r.ReadDouble("logDefaultScale");
        r.EnsureEnd("payloadLength");
        // The same bounds as CkksParameters.FromRing, so that every accepted value builds (no ArgumentException escapes).
        double logQ = ring.Q.Sum(q => Math.Log2(q));
        double max = Math.Min(logQ, CkksParameters.MaxLogDefaultScale);
        if (!(logScale > 0 && logScale < max))
            throw new VeilFormatException("logDefaultScale", $"The default scale must be in (0, {max:F1}) bits (below log2 Q and {CkksParameters.MaxLogDefaultScale}); got {logScale}.");
        try
        {
            return CkksParameters.FromRing(ring, logScale);
        }
        catch (ArgumentException e)
        {
            throw new VeilFormatException("parameters", e.Message, e);
        }
    }
}
