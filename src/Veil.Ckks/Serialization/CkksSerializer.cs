using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Ckks.Serialization;

/// <summary>
/// Serialization of CKKS parameter sets: the RLWE ring (re-validated on load, security check included) and the
/// default scale, in the same hardened envelope as every other Veil object. Ciphertexts, plaintexts and keys go
/// through <see cref="RlweSerializer"/>.
/// </summary>
/// <remarks>Payload: scheme u8 (1 = CKKS) ‖ RLWE parameters ‖ log2 of the default scale f64.</remarks>
public static class CkksSerializer
{
    private const byte SchemeCkks = 1;

    /// <summary>Serializes a parameter set.</summary>
    public static byte[] Save(CkksParameters parameters, Compression compression = Compression.None)
    {
        var payload = Payload(parameters);
        return VeilEnvelope.Pack(ObjectKind.Parameters, stackalloc byte[VeilHeader.ParameterHashSize], payload, compression);
    }

    /// <summary>Serializes a parameter set to a stream.</summary>
    public static void Save(CkksParameters parameters, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(Save(parameters, compression));
    }

    /// <summary>Loads a parameter set.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, parameters beyond the limits, or an invalid or insecure set (field "parameters").</exception>
    public static CkksParameters LoadParameters(ReadOnlySpan<byte> bytes, SerializationLimits? limits = null) =>
        Read(VeilEnvelope.Unpack(bytes, ObjectKind.Parameters, stackalloc byte[VeilHeader.ParameterHashSize], limits, out _), limits);

    /// <summary>Loads a parameter set from a stream (header first, then exactly the bytes it declares).</summary>
    /// <exception cref="VeilFormatException">Malformed or truncated bytes, or an invalid set.</exception>
    public static CkksParameters LoadParameters(Stream stream, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Read(VeilEnvelope.Unpack(stream, ObjectKind.Parameters, stackalloc byte[VeilHeader.ParameterHashSize], limits), limits);
    }

    private static byte[] Payload(CkksParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var ring = parameters.Ring;
        var payload = new byte[1 + RlweSerializer.ParametersPayloadBytes(ring.Q.Count, ring.P.Count) + 8];
        var w = new PayloadWriter(payload);
        w.WriteByte(SchemeCkks);
        RlweSerializer.WriteParameters(ref w, ring);
        w.WriteDouble(parameters.Literal.LogDefaultScale);
        w.EnsureFull();
        return payload;
    }

    private static CkksParameters Read(ReadOnlySpan<byte> payload, SerializationLimits? limits)
    {
        var r = new PayloadReader(payload);
        byte scheme = r.ReadByte("scheme");
        if (scheme != SchemeCkks) throw new VeilFormatException("scheme", $"Expected CKKS parameters (scheme 1); got scheme {scheme}.");
        var ring = RlweSerializer.ReadParameters(ref r, limits);
        double logScale = r.ReadDouble("logDefaultScale");
        r.EnsureEnd("payloadLength");
        double logQ = ring.Q.Sum(q => Math.Log2(q));
        if (!(logScale > 0 && logScale < logQ))
            throw new VeilFormatException("logDefaultScale", $"The default scale must be in (0, log2 Q = {logQ:F1}) bits; got {logScale}.");
        return CkksParameters.FromRing(ring, logScale);
    }
}
