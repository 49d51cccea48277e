using System.Collections.Concurrent;

namespace Veil.Rlwe;

/// <summary>
/// Ciphertext buffers given up when a ciphertext changes shape, kept for the next ciphertext of the same length.
/// </summary>
/// <remarks>
/// A bootstrap's EvalMod allocated 530 MiB of ciphertexts per call at N = 2^14; the collector handed much of it back to
/// the kernel and faulted it in again, so half of EvalMod's time was page faults (PERFORMANCE.md, "Sparse packing").
/// Buffers here hold ciphertexts only (public data). Bounded by <see cref="CapacityBytes"/>, emptied after a full
/// collection under memory pressure or when unused for a minute.
/// </remarks>
internal static class CiphertextBuffers
{
    private const int SmallestPooled = 1 << 16; // words; smaller arrays are cheap for the collector
    private static readonly ConcurrentDictionary<int, ConcurrentStack<ulong[]>> Free = new();
    private static long _heldWords, _lastUse;

    /// <summary>At most 512 MiB, or 1/32 of the memory available to the process.</summary>
    internal static long CapacityBytes { get; } = Math.Min(512L << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 32);

    static CiphertextBuffers() => _ = new TrimAfterFullCollections();

    /// <summary>A buffer of exactly <paramref name="length"/> words, with unspecified contents, or null.</summary>
    internal static ulong[]? TryTake(int length)
    {
        if (length < SmallestPooled || !Free.TryGetValue(length, out var stack) || !stack.TryPop(out var buffer)) return null;
        Interlocked.Add(ref _heldWords, -length);
        Volatile.Write(ref _lastUse, Environment.TickCount64);
        return buffer;
    }

    /// <summary>Keeps a buffer no one will read or write again, if there is room.</summary>
    internal static void Give(ulong[] buffer)
    {
        if (buffer.Length < SmallestPooled) return;
        if (Interlocked.Add(ref _heldWords, buffer.Length) * sizeof(ulong) > CapacityBytes)
        {
            Interlocked.Add(ref _heldWords, -buffer.Length);
            return;
        }
        Free.GetOrAdd(buffer.Length, _ => new ConcurrentStack<ulong[]>()).Push(buffer);
        Volatile.Write(ref _lastUse, Environment.TickCount64);
    }

    /// <summary>Words held now (for tests).</summary>
    internal static long HeldWords => Interlocked.Read(ref _heldWords);

    internal static void Clear()
    {
        foreach (var (_, stack) in Free) // enumerating the dictionary itself takes no locks and copies nothing
            while (stack.TryPop(out var buffer)) Interlocked.Add(ref _heldWords, -buffer.Length);
    }

    // Finalized after collections and re-registered, so it runs after every full collection (the pattern ArrayPool uses).
    private sealed class TrimAfterFullCollections
    {
        private int _lastGen2 = GC.CollectionCount(2);

        ~TrimAfterFullCollections()
        {
            if (Environment.HasShutdownStarted) return;
            try
            {
                int gen2 = GC.CollectionCount(2);
                if (gen2 != _lastGen2)
                {
                    _lastGen2 = gen2;
                    var info = GC.GetGCMemoryInfo();
                    bool pressed = info.MemoryLoadBytes >= info.HighMemoryLoadThresholdBytes * 0.9;
                    bool idle = Environment.TickCount64 - Volatile.Read(ref _lastUse) > 60_000;
                    if (pressed || idle) Clear();
                }
            }
            catch (Exception)
            {
                // A finalizer must not throw (it would end the process); the pool is only a cache, so skip this trim.
            }
            GC.ReRegisterForFinalize(this);
        }
    }
}
