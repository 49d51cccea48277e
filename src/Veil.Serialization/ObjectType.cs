using System.Collections.Concurrent;

namespace Veil.Serialization;

/// <summary>
/// What a serialized object is: the scheme (or layer) that defines it and its kind within that scheme. The header
/// records both; loading checks both. New layers register their own pairs (<see cref="ObjectTypes.Register"/>) instead
/// of editing a closed list.
/// </summary>
/// <param name="Scheme">The defining scheme or layer (see <see cref="Schemes"/>).</param>
/// <param name="Kind">The kind within that scheme.</param>
public readonly record struct ObjectType(ushort Scheme, ushort Kind)
{
    /// <inheritdoc/>
    public override string ToString() => ObjectTypes.NameOf(this);
}

/// <summary>The scheme and layer numbers of <see cref="ObjectType.Scheme"/>; each layer owns its number.</summary>
public static class Schemes
{
    /// <summary>Objects shared by every RLWE scheme: parameters, plaintexts, ciphertexts, keys (Veil.Rlwe).</summary>
    public const ushort Rlwe = 0;
    /// <summary>CKKS (Veil.Ckks).</summary>
    public const ushort Ckks = 1;
    /// <summary>BFV (Veil.Bfv).</summary>
    public const ushort Bfv = 2;
    /// <summary>Paillier (Veil.Paillier).</summary>
    public const ushort Paillier = 3;
    /// <summary>Exponential EC-ElGamal.</summary>
    public const ushort ElGamal = 4;
    /// <summary>Multiparty protocols (Veil.Multiparty).</summary>
    public const ushort Multiparty = 16;
    /// <summary>Secret-sharing MPC (Veil.Mpc).</summary>
    public const ushort Mpc = 17;
    /// <summary>Federated learning (Veil.Federated).</summary>
    public const ushort Federated = 18;
    /// <summary>Encrypted tensors, models and their messages (Veil.Ml).</summary>
    public const ushort Ml = 32;
    /// <summary>Protection: keyrings, wrapped keys, audit records (Veil.Protection).</summary>
    public const ushort Protection = 48;
    /// <summary>Service messages (Veil.Server).</summary>
    public const ushort Service = 64;
}

/// <summary>
/// The registry of object types: a name per (scheme, kind), so that errors say "a GaloisKeys, not a Ciphertext", and so
/// that two layers cannot claim one pair.
/// </summary>
public static class ObjectTypes
{
    private static readonly ConcurrentDictionary<ObjectType, string> Names = new();

    /// <summary>Registers a name for a pair; registering the same pair again with the same name is a no-op.</summary>
    /// <returns>The type, for a <c>static readonly</c> field.</returns>
    /// <exception cref="ArgumentException">The name is empty, or the pair is already registered under another name.</exception>
    public static ObjectType Register(ushort scheme, ushort kind, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var type = new ObjectType(scheme, kind);
        string existing = Names.GetOrAdd(type, name);
        if (existing != name)
            throw new ArgumentException($"Object type ({scheme}, {kind}) is already registered as {existing}; it cannot also be {name}.", nameof(kind));
        return type;
    }

    /// <summary>Whether a pair is registered.</summary>
    public static bool IsRegistered(ObjectType type) => Names.ContainsKey(type);

    /// <summary>The registered name, or "(scheme s, kind k)" for an unknown pair.</summary>
    public static string NameOf(ObjectType type) => Names.TryGetValue(type, out var name) ? name : $"(scheme {type.Scheme}, kind {type.Kind})";
}
