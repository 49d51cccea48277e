using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Veil.Mpc;

/// <summary>Additive secret sharing over Z_2^64: x = Σ_i x_i mod 2^64, every n − 1 of the shares uniform and independent of x.</summary>
public static class Sharing
{
    /// <summary>Shares of <paramref name="values"/> for <paramref name="parties"/> parties (the first n − 1 uniform from the OS generator).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than two parties, or more than 16.</exception>
    public static ulong[][] Split(ReadOnlySpan<ulong> values, int parties)
    {
        if (parties < 2 || parties > MpcSession.MaxParties) throw new ArgumentOutOfRangeException(nameof(parties), parties, $"2 … {MpcSession.MaxParties} parties.");
        var shares = new ulong[parties][];
        var last = values.ToArray();
        for (int p = 0; p < parties - 1; p++)
        {
            shares[p] = Random(values.Length);
            for (int i = 0; i < last.Length; i++) last[i] -= shares[p][i];
        }
        shares[parties - 1] = last;
        return shares;
    }

    /// <summary>Σ_i shares[i] mod 2^64.</summary>
    /// <exception cref="ArgumentException">No shares, or shares of different lengths.</exception>
    public static ulong[] Reconstruct(IReadOnlyList<ulong[]> shares)
    {
        ArgumentNullException.ThrowIfNull(shares);
        if (shares.Count == 0) throw new ArgumentException("No shares.", nameof(shares));
        var sum = new ulong[shares[0].Length];
        foreach (var s in shares)
        {
            if (s is null || s.Length != sum.Length) throw new ArgumentException($"Every share has {sum.Length} elements.", nameof(shares));
            for (int i = 0; i < sum.Length; i++) sum[i] += s[i];
        }
        return sum;
    }

    /// <summary><paramref name="count"/> uniform elements of Z_2^64 from the OS generator.</summary>
    internal static ulong[] Random(int count)
    {
        var r = new ulong[count];
        RandomNumberGenerator.Fill(MemoryMarshal.AsBytes(r.AsSpan()));
        return r;
    }
}
