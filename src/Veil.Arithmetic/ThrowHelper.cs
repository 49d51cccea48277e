using System.Diagnostics.CodeAnalysis;

namespace Veil.Arithmetic;

/// <summary>Throw sites kept out of hot methods so the JIT can inline the callers.</summary>
public static class ThrowHelper
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the parameter.</summary>
    [DoesNotReturn]
    public static void Argument(string paramName, string message) => throw new ArgumentException(message, paramName);

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the parameter.</summary>
    [DoesNotReturn]
    public static void OutOfRange(string paramName, string message) => throw new ArgumentOutOfRangeException(paramName, message);

    /// <summary>Throws an <see cref="InvalidOperationException"/>.</summary>
    [DoesNotReturn]
    public static void InvalidOperation(string message) => throw new InvalidOperationException(message);

    /// <summary>Throws an <see cref="ObjectDisposedException"/>.</summary>
    [DoesNotReturn]
    public static void Disposed(string objectName) => throw new ObjectDisposedException(objectName);
}
