namespace Veil.Serialization;

/// <summary>
/// Serialized bytes that are malformed, truncated, inconsistent with the parameters, or beyond the configured limits.
/// Loading untrusted data throws only this exception for bad bytes.
/// </summary>
public sealed class VeilFormatException : FormatException
{
    /// <summary>Creates the exception for the field that was wrong.</summary>
    /// <param name="field">The field that failed validation (for example "magic", "level", "coefficients").</param>
    /// <param name="detail">What was wrong with it.</param>
    public VeilFormatException(string field, string detail)
        : this(field, detail, null) { }

    /// <summary>Creates the exception for the field that was wrong, keeping the underlying cause.</summary>
    /// <param name="field">The field that failed validation.</param>
    /// <param name="detail">What was wrong with it.</param>
    /// <param name="innerException">The exception that revealed the problem (a decompressor or parameter-validation error).</param>
    public VeilFormatException(string field, string detail, Exception? innerException)
        : base($"Invalid serialized data, field '{field}': {detail}", innerException)
    {
        Field = field;
    }

    /// <summary>The field that failed validation.</summary>
    public string Field { get; }
}
