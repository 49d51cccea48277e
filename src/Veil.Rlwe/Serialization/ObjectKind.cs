using Veil.Serialization;

namespace Veil.Rlwe.Serialization;

/// <summary>The type of object a serialized blob holds; the header records it and loading checks it.</summary>
public enum ObjectKind : byte
{
    /// <summary>A parameter set (RLWE, or a scheme's own parameters built on it).</summary>
    Parameters = 1,
    /// <summary>A <see cref="Rlwe.Plaintext"/>.</summary>
    Plaintext = 2,
    /// <summary>A <see cref="Rlwe.Ciphertext"/>.</summary>
    Ciphertext = 3,
    /// <summary>A <see cref="Rlwe.SecretKey"/>.</summary>
    SecretKey = 4,
    /// <summary>A <see cref="Rlwe.PublicKey"/>.</summary>
    PublicKey = 5,
    /// <summary>A <see cref="Rlwe.RelinearizationKey"/>.</summary>
    RelinearizationKey = 6,
    /// <summary>A <see cref="Rlwe.GaloisKeys"/> set.</summary>
    GaloisKeys = 7,
    /// <summary>A <see cref="Rlwe.KeySwitchingKey"/>.</summary>
    KeySwitchingKey = 8,
}

/// <summary>The <see cref="ObjectType"/> of each <see cref="ObjectKind"/> (scheme <see cref="Schemes.Rlwe"/>), registered once.</summary>
public static class RlweObjectTypes
{
    private static readonly ObjectType[] Types = Enum.GetValues<ObjectKind>().Select(k => ObjectTypes.Register(Schemes.Rlwe, (ushort)k, k.ToString())).ToArray();

    /// <summary>The registered type of an RLWE kind.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An undefined kind.</exception>
    public static ObjectType Of(ObjectKind kind)
    {
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown object kind.");
        return Types[(int)kind - 1];
    }
}
