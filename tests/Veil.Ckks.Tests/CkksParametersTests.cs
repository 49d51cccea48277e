using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Ckks.Tests;

public class CkksParametersTests
{
    [Fact]
    public void Presets_AreAccepted_At128Bits()
    {
        var a = CkksParameters.Create(CkksParameters.SetA);
        Assert.Equal(8192, a.N);
        Assert.Equal(2, a.MaxLevel);
        Assert.True(a.Ring.LogQP <= 218);
        var b = CkksParameters.Create(CkksParameters.SetB);
        Assert.Equal(16384, b.N);
        Assert.Equal(6, b.MaxLevel);
        Assert.True(b.Ring.LogQP <= 438);
        Assert.All(a.Ring.Q.Concat(a.Ring.P), q => Assert.Equal(1UL, q % (2UL * 8192)));
    }

    [Fact]
    public void Create_RefusesParametersBeyondThe128BitBound()
    {
        var literal = CkksParameters.SetB with { LogN = 13 }; // 360 bits > 218 for N = 8192
        var ex = Assert.Throws<ArgumentException>(() => CkksParameters.Create(literal));
        Assert.Contains("218", ex.Message);
    }

    [Fact]
    public void Create_InsecureOptOut_WorksOnlyWhenAsked()
    {
        var literal = CkksParameters.SetB with { LogN = 13 };
        var p = CkksParameters.Create(literal with { Security = SecurityLevel.InsecureNoCheck }, SecurityLevel.InsecureNoCheck);
        Assert.Equal(SecurityLevel.InsecureNoCheck, p.Ring.Security);
        Assert.Throws<ArgumentException>(() => CkksParameters.Create(literal with { Security = SecurityLevel.Bits128 }));
    }

    [Fact]
    public void Create_LiteralCannotSwitchOffTheCheck()
    {
        // {"LogN":10, …, "Security":0} from a JSON file: refused unless the code itself opts out.
        var json = """{"LogN":10,"LogQ":[27],"LogP":[27],"LogDefaultScale":20,"Security":0}""";
        var literal = System.Text.Json.JsonSerializer.Deserialize<CkksParametersLiteral>(json)!;
        Assert.Equal(SecurityLevel.InsecureNoCheck, literal.Security);
        var ex = Assert.Throws<ArgumentException>(() => CkksParameters.Create(literal));
        Assert.Contains("cannot switch the check off", ex.Message);
        // A literal below the caller's minimum is refused too, whatever the bound would say.
        Assert.Throws<ArgumentException>(() => CkksParameters.Create(CkksParameters.SetA, SecurityLevel.Bits192));
        Assert.Equal(SecurityLevel.InsecureNoCheck, CkksParameters.Create(literal, SecurityLevel.InsecureNoCheck).Ring.Security);
    }

    [Fact]
    public void Create_HigherSecurityLevels_UseTheirOwnBounds()
    {
        // Set A has 200 bits: fine at 128 (218), refused at 192 (152).
        Assert.Throws<ArgumentException>(() => CkksParameters.Create(CkksParameters.SetA with { Security = SecurityLevel.Bits192 }));
        var small = new CkksParametersLiteral { LogN = 13, LogQ = [50, 40], LogP = [50], LogDefaultScale = 40, Security = SecurityLevel.Bits192 };
        Assert.Equal(SecurityLevel.Bits192, CkksParameters.Create(small).Ring.Security);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(18)]
    public void Create_RefusesRingDegreeOutOfRange(int logN)
    {
        Assert.ThrowsAny<ArgumentException>(() => CkksParameters.Create(CkksParameters.SetA with { LogN = logN, Security = SecurityLevel.InsecureNoCheck }, SecurityLevel.InsecureNoCheck));
    }

    [Fact]
    public void Create_RefusesBadPrimeSizesAndScale()
    {
        Assert.ThrowsAny<ArgumentException>(() => CkksParameters.Create(CkksParameters.SetA with { LogQ = [62, 40] }));
        Assert.ThrowsAny<ArgumentException>(() => CkksParameters.Create(CkksParameters.SetA with { LogQ = [] }));
        Assert.ThrowsAny<ArgumentException>(() => CkksParameters.Create(CkksParameters.SetA with { LogP = [] }));
        Assert.ThrowsAny<ArgumentException>(() => CkksParameters.Create(CkksParameters.SetA with { LogDefaultScale = -1 }));
    }

    [Fact]
    public void Create_IsDeterministic()
    {
        var a = CkksParameters.Create(CkksParameters.SetA);
        var b = CkksParameters.Create(CkksParameters.SetA);
        Assert.True(a.Ring.SameRingAs(b.Ring));
        Assert.Equal(a.Ring.Q, b.Ring.Q);
    }
}
