using System.Text;

namespace Backpressure.Cli;

/// <summary>
/// Writes a set of files whole or not at all. Every target is checked first (it exists or its folder
/// does, it is writable, its bytes decode in the encoding it will be written in); each new content is
/// staged beside its target in the target's own encoding (BOM or not); then each target is swapped for
/// its staged file, with the original kept aside until all swaps succeed, and put back if any fails.
/// A symbolic link is written through to the file it points at, so the link stays a link.
/// </summary>
public static class FileWriter
{
    public static void WriteAll(IReadOnlyList<(string Path, string Text)> files)
    {
        var targets = files.Select(f => (Target: Resolve(f.Path), f.Text)).ToList();
        foreach (var (target, _) in targets)
        {
            if (Directory.Exists(target))
            {
                throw new CliException(ExitCodes.BadInput, $"'{target}' is a directory; nothing was written.");
            }

            if (!Directory.Exists(Path.GetDirectoryName(target)))
            {
                throw new CliException(ExitCodes.BadInput, $"the folder of '{target}' does not exist; nothing was written.");
            }

            if (File.Exists(target) && File.GetAttributes(target).HasFlag(FileAttributes.ReadOnly))
            {
                throw new CliException(ExitCodes.BadInput, $"'{target}' is read-only; nothing was written.");
            }
        }

        var staged = new List<(string Staged, string Target, string Backup)>();
        try
        {
            foreach (var (target, text) in targets)
            {
                var encoding = File.Exists(target) ? FileEncoding.Detect(target) : new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
                var name = $".{Path.GetFileName(target)}.{Guid.NewGuid():N}";
                var temporary = Path.Combine(Path.GetDirectoryName(target)!, name + ".tmp");
                using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
                {
                    stream.Write(encoding.GetPreamble());
                    stream.Write(encoding.GetBytes(text));
                }

                if (File.Exists(target) && !OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(temporary, File.GetUnixFileMode(target)); // the swap must not change who may read it
                }

                staged.Add((temporary, target, Path.Combine(Path.GetDirectoryName(target)!, name + ".orig")));
            }

            Swap(staged);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            foreach (var (temporary, _, _) in staged)
            {
                TryDelete(temporary);
            }

            throw new CliException(ExitCodes.BadInput, $"could not write: {ex.Message}; nothing was written.");
        }
    }

    private static void Swap(List<(string Staged, string Target, string Backup)> staged)
    {
        var done = new List<(string Target, string Backup, bool HadOriginal)>();
        try
        {
            foreach (var (temporary, target, backup) in staged)
            {
                var hadOriginal = File.Exists(target);
                if (hadOriginal)
                {
                    File.Move(target, backup);
                }

                done.Add((target, backup, hadOriginal));
                File.Move(temporary, target);
            }
        }
        catch
        {
            // Put every original back, newest first, so the tree is as it was.
            foreach (var (target, backup, hadOriginal) in Enumerable.Reverse(done))
            {
                if (hadOriginal)
                {
                    TryDelete(target);
                    File.Move(backup, target);
                }
            }

            throw;
        }

        foreach (var (_, backup, hadOriginal) in done)
        {
            if (hadOriginal)
            {
                TryDelete(backup);
            }
        }
    }

    private static string Resolve(string path)
    {
        var full = Path.GetFullPath(path);
        return File.Exists(full) && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } target ? target.FullName : full;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
