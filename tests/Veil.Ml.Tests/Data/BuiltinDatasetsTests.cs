using Veil.Ml.Data;

namespace Veil.Ml.Tests.Data;

public sealed class BuiltinDatasetsTests : IClassFixture<TempFiles>
{
    private readonly TempFiles _files;

    public BuiltinDatasetsTests(TempFiles files) => _files = files;

    [Fact]
    public void BreastCancer_HasSklearnShapeNamesAndClasses()
    {
        var data = BuiltinDatasets.BreastCancer();
        Assert.Equal((569, 30), (data.Rows, data.Columns));
        Assert.Equal(["malignant", "benign"], data.ClassNames!);
        Assert.Equal("diagnosis", data.TargetName);
        Assert.Equal("mean radius", data.FeatureNames[0]);
        Assert.Equal("mean fractal dimension", data.FeatureNames[9]);
        Assert.Equal("radius error", data.FeatureNames[10]);
        Assert.Equal("concave points error", data.FeatureNames[17]);
        Assert.Equal("worst radius", data.FeatureNames[20]);
        Assert.Equal("worst fractal dimension", data.FeatureNames[29]);
        Assert.Equal(212, data.Targets.Count(t => t == 0));
        Assert.Equal(357, data.Targets.Count(t => t == 1));
        Assert.Equal(17.99, data.Features[0][0]);
        Assert.Equal(0.1189, data.Features[0][29]);
    }

    [Fact]
    public void Iris_HasFourFeaturesAndFiftyRowsPerClass()
    {
        var data = BuiltinDatasets.Iris();
        Assert.Equal((150, 4), (data.Rows, data.Columns));
        Assert.Equal(["sepal length", "sepal width", "petal length", "petal width"], data.FeatureNames);
        Assert.Equal(["setosa", "versicolor", "virginica"], data.ClassNames!);
        for (int k = 0; k < 3; k++) Assert.Equal(50, data.Targets.Count(t => t == k));
        Assert.Equal([5.1, 3.5, 1.4, 0.2], data.Features[0]);
    }

    [Fact]
    public void Diabetes_JoinsFeaturesAndTargets()
    {
        var data = BuiltinDatasets.Diabetes();
        Assert.Equal((442, 10), (data.Rows, data.Columns));
        Assert.Equal(["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"], data.FeatureNames);
        Assert.Equal("progression", data.TargetName);
        Assert.Null(data.ClassNames);
        Assert.Equal([59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87], data.Features[0]);
        Assert.Equal([151.0, 75, 141], data.Targets[..3]);
    }

    [Fact]
    public void Digits_HasSixtyFourPixelsAndTenClasses()
    {
        var data = BuiltinDatasets.Digits();
        Assert.Equal((1797, 64), (data.Rows, data.Columns));
        Assert.Equal("pixel_0_0", data.FeatureNames[0]);
        Assert.Equal("pixel_2_5", data.FeatureNames[21]);
        Assert.Equal("pixel_7_7", data.FeatureNames[63]);
        Assert.Equal(10, data.ClassCount);
        Assert.Equal("7", data.ClassNames![7]);
        Assert.All(data.Features, row => Assert.All(row, v => Assert.InRange(v, 0, 16)));
        Assert.Equal(0, data.Targets[0]);
    }

    [Fact]
    public void Load_ThrowsFileNotFoundWhenTheDirectoryLacksTheFile()
    {
        var e = Assert.Throws<FileNotFoundException>(() => BuiltinDatasets.Iris(_files.Folder));
        Assert.Contains("iris.csv", e.Message);
    }

    [Fact]
    public void Locate_SearchesUpwardForTheDataFolder()
    {
        string path = BuiltinDatasets.Locate("iris.csv", null);
        Assert.Equal("data", Path.GetFileName(Path.GetDirectoryName(path)));
    }

    [Fact]
    public void Iris_RejectsFewerRowsThanDeclared()
    {
        string dir = Directory.CreateDirectory(Path.Combine(_files.Folder, "short")).FullName;
        File.WriteAllText(Path.Combine(dir, "iris.csv"), "3,4,a,b\n1,2,3,4,0\n1,2,3,4,1\n");
        var e = Assert.Throws<DataFormatException>(() => BuiltinDatasets.Iris(dir));
        Assert.Equal((4, null), (e.Row, e.Column));
    }

    [Fact]
    public void Iris_RejectsClassIndexOutsideTheHeaderClasses()
    {
        string dir = Directory.CreateDirectory(Path.Combine(_files.Folder, "label")).FullName;
        File.WriteAllText(Path.Combine(dir, "iris.csv"), "2,4,a,b\n1,2,3,4,0\n1,2,3,4,2\n");
        var e = Assert.Throws<DataFormatException>(() => BuiltinDatasets.Iris(dir));
        Assert.Equal((3, 5), (e.Row, e.Column));
    }

    [Fact]
    public void Iris_RejectsWrongFeatureCountInHeader()
    {
        string dir = Directory.CreateDirectory(Path.Combine(_files.Folder, "features")).FullName;
        File.WriteAllText(Path.Combine(dir, "iris.csv"), "1,5,a,b\n1,2,3,4,0\n");
        var e = Assert.Throws<DataFormatException>(() => BuiltinDatasets.Iris(dir));
        Assert.Equal((1, 2), (e.Row, e.Column));
    }

    [Fact]
    public void Diabetes_RejectsMismatchedTargetCount()
    {
        string dir = Directory.CreateDirectory(Path.Combine(_files.Folder, "diabetes")).FullName;
        File.Copy(BuiltinDatasets.Locate("diabetes_data_raw.csv.gz", null), Path.Combine(dir, "diabetes_data_raw.csv.gz"));
        File.WriteAllText(Path.Combine(dir, "diabetes_target.csv.gz"), "1\n2\n");
        var e = Assert.Throws<DataFormatException>(() => BuiltinDatasets.Diabetes(dir));
        Assert.Equal(3, e.Row);
    }
}
