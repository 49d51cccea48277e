using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Veil.Arithmetic;

/// <summary>
/// Scratch arrays for secret or key-equivalent data (the secret key and its powers or automorphisms, products with
/// it, decrypted polynomials), kept apart from <see cref="System.Buffers.ArrayPool{T}.Shared"/>: every array is
/// allocated pinned, so the collector never leaves a moved copy behind, and is wiped when it comes back, so that the
/// next renter finds zeros.
/// </summary>
/// <typeparam name="T">An unmanaged element type.</typeparam>
/// <remarks>
/// Buckets by power-of-two length, a few arrays each, shared by all threads. A rented array may be longer than
/// asked for; it is returned with the length that was used, and only that prefix is wiped (the rest was never
/// written since its last wipe).
/// </remarks>
public static class SecretArrayPool<T> where T : unmanaged
{
    private const int MaxPerBucket = 16;
    // A locked array stack per bucket: renting and returning allocate nothing (ConcurrentStack allocates a node a push).
    private static readonly Bucket[] Buckets = Enumerable.Range(0, 32).Select(_ => new Bucket()).ToArray();

    private sealed class Bucket
    {
        private readonly T[]?[] _items = new T[]?[MaxPerBucket];
        private int _count;

        public T[]? TryPop()
        {
            lock (this)
            {
                if (_count == 0) return null;
                var item = _items[--_count];
                _items[_count] = null;
                return item;
            }
        }

        public void TryPush(T[] item)
        {
            lock (this)
            {
                if (_count < MaxPerBucket) _items[_count++] = item;
            }
        }
    }

    /// <summary>An array of at least <paramref name="length"/> elements, pinned; its contents are zero.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative or beyond 2^30.</exception>
    public static T[] Rent(int length)
    {
        if (length < 0 || length > 1 << 30) ThrowHelper.OutOfRange(nameof(length), $"Length must be in [0, 2^30]; got {length}.");
        int bucket = BucketOf(length);
        return Buckets[bucket].TryPop() ?? GC.AllocateArray<T>(1 << bucket, pinned: true);
    }

    /// <summary>Wipes the first <paramref name="usedLength"/> elements and keeps the array for the next renter.</summary>
    /// <param name="array">An array from <see cref="Rent"/>.</param>
    /// <param name="usedLength">How many leading elements may have been written (all of them when negative).</param>
    /// <exception cref="ArgumentException">The array did not come from this pool.</exception>
    public static void Return(T[] array, int usedLength = -1)
    {
        ArgumentNullException.ThrowIfNull(array);
        int length = array.Length;
        if (length == 0 || (length & (length - 1)) != 0) ThrowHelper.Argument(nameof(array), "The array did not come from this pool.");
        int wipe = usedLength < 0 ? length : Math.Min(usedLength, length);
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(array.AsSpan(0, wipe)));
        Buckets[BucketOf(length)].TryPush(array);
    }

    /// <summary>Zeroes a span of unmanaged values (a secret that lives elsewhere).</summary>
    public static void Wipe(Span<T> values) => CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(values));

    private static int BucketOf(int length) => length <= 1 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(length - 1));
}
