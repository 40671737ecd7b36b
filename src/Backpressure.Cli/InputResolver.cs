namespace Backpressure.Cli;

public enum InputKind
{
    Solution,
    Project,
    LooseFolder,
}

/// <summary>What the path names: a solution, a project, or a folder of loose C# files.</summary>
public sealed record Input(InputKind Kind, string Path, string Root);

public static class InputResolver
{
    private static readonly string[] SolutionExtensions = [".sln", ".slnx"];

    /// <summary>
    /// A .sln, .slnx or .csproj is taken as it is. A folder holding exactly one of them means that one; a
    /// folder holding none is analysed as loose files; more than one candidate is an error that lists them.
    /// </summary>
    public static Input Resolve(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new CliException(ExitCodes.BadInput, "no path given: name a .sln, .slnx, .csproj or folder.");
        }

        var full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full))
        {
            var extension = System.IO.Path.GetExtension(full).ToLowerInvariant();
            var root = System.IO.Path.GetDirectoryName(full)!;
            return extension switch
            {
                ".sln" or ".slnx" => new Input(InputKind.Solution, full, root),
                ".csproj" => new Input(InputKind.Project, full, root),
                _ => throw new CliException(ExitCodes.BadInput, $"'{path}' is not a .sln, .slnx, .csproj or folder."),
            };
        }

        if (!Directory.Exists(full))
        {
            throw new CliException(ExitCodes.BadInput, $"'{path}' does not exist.");
        }

        var solutions = Directory.EnumerateFiles(full).Where(f => SolutionExtensions.Contains(System.IO.Path.GetExtension(f).ToLowerInvariant())).ToList();
        var projects = Directory.EnumerateFiles(full, "*.csproj").ToList();
        var candidates = solutions.Count > 0 ? solutions : projects;
        if (candidates.Count == 0
            && Directory.EnumerateFiles(full, "*.csproj", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(3).ToList() is { Count: > 0 } nested)
        {
            // Their files belong to those projects, with their settings: never to an invented loose project.
            throw new CliException(ExitCodes.BadInput, $"'{path}' holds projects in subfolders ({string.Join(", ", nested.Select(p => System.IO.Path.GetRelativePath(full, p)))}); name a project or a solution.");
        }

        return candidates.Count switch
        {
            0 => new Input(InputKind.LooseFolder, full, full),
            1 => Resolve(candidates[0]),
            _ => throw new CliException(
                ExitCodes.BadInput,
                $"'{path}' holds more than one {(solutions.Count > 0 ? "solution" : "project")}: {string.Join(", ", candidates.Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal))}; name one."),
        };
    }
}
