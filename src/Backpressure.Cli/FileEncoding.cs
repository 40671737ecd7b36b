using System.Text;

namespace Backpressure.Cli;

/// <summary>
/// The encoding a file was written in, as its bytes show, so a rewrite keeps it (and its BOM or lack of
/// one). A file with no BOM must be valid UTF-8: anything else (Latin-1, say) would be corrupted by a
/// rewrite, so it is refused instead.
/// </summary>
public static class FileEncoding
{
    public static Encoding Detect(string path)
    {
        var bytes = File.ReadAllBytes(path);
        switch (bytes)
        {
            case [0xEF, 0xBB, 0xBF, ..]:
                return new UTF8Encoding(encoderShouldEmitUTF8Identifier: true);
            case [0xFF, 0xFE, 0x00, 0x00, ..]:
                return new UTF32Encoding(bigEndian: false, byteOrderMark: true);
            case [0xFF, 0xFE, ..]:
                return new UnicodeEncoding(bigEndian: false, byteOrderMark: true);
            case [0xFE, 0xFF, ..]:
                return new UnicodeEncoding(bigEndian: true, byteOrderMark: true);
        }

        try
        {
            _ = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetCharCount(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new CliException(ExitCodes.BadInput, $"'{path}' is neither UTF-8 nor marked with a byte order mark; re-save it as UTF-8 so it can be rewritten without damage. Nothing was written.");
        }

        return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
    }
}
