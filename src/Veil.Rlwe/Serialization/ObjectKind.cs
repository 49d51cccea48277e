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
