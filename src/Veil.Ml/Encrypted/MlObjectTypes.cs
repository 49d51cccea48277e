using Veil.Serialization;

namespace Veil.Ml.Encrypted;

/// <summary>The object types Veil.Ml registers (scheme <see cref="Schemes.Ml"/>).</summary>
public static class MlObjectTypes
{
    /// <summary>An <see cref="Encrypted.EncryptedVector"/>.</summary>
    public static ObjectType EncryptedVector { get; } = ObjectTypes.Register(Schemes.Ml, 1, "EncryptedVector");
    /// <summary>An <see cref="Encrypted.EncryptedMatrix"/>.</summary>
    public static ObjectType EncryptedMatrix { get; } = ObjectTypes.Register(Schemes.Ml, 2, "EncryptedMatrix");
}
