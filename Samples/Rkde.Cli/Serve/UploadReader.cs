using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Rkde.Cli.Serve;

/// <summary>
/// Reads an upload into memory, never onto disk: the request body as it is, or the field <c>image</c> of a
/// multipart/form-data body (its file name, if any, is ignored). Stops at the body limit whether or not the client
/// sent a Content-Length, so a body larger than the limit is refused without being held.
/// </summary>
internal static class UploadReader
{
    /// <summary>The multipart field that carries the image.</summary>
    public const string FieldName = "image";

    /// <summary>The image bytes, or the status and message that refuse the request.</summary>
    public static async Task<(byte[]? Bytes, int Status, string? Error)> ReadAsync(HttpRequest request, long maxBodyBytes, CancellationToken cancel)
    {
        var (images, status, error) = await ReadAsync(request, maxBodyBytes, all: false, cancel);
        return (images?[0], status, error);
    }

    /// <summary>
    /// Every image of the upload: the body, or each multipart field <c>image</c> in order (the body limit counts them all);
    /// or the status and message that refuse the request.
    /// </summary>
    public static Task<(List<byte[]>? Images, int Status, string? Error)> ReadAllAsync(HttpRequest request, long maxBodyBytes, CancellationToken cancel) =>
        ReadAsync(request, maxBodyBytes, all: true, cancel);

    private static async Task<(List<byte[]>? Images, int Status, string? Error)> ReadAsync(HttpRequest request, long maxBodyBytes, bool all, CancellationToken cancel)
    {
        if (request.ContentLength > maxBodyBytes)
            return (null, 413, TooLarge(maxBodyBytes, string.Create(CultureInfo.InvariantCulture, $"Content-Length {request.ContentLength:N0}")));
        try
        {
            if (MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
                return await ReadMultipartAsync(request, type, maxBodyBytes, all, cancel);
            var bytes = await ReadLimitedAsync(request.Body, maxBodyBytes, cancel);
            return bytes is null ? (null, 413, TooLarge(maxBodyBytes, "the body")) : ([bytes], 200, null);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limit (set to the same size) or a malformed body.
            return (null, e.StatusCode, e.StatusCode == 413 ? TooLarge(maxBodyBytes, "the body") : $"The request body could not be read: {e.Message}");
        }
        catch (InvalidDataException e)
        {
            return (null, 400, $"The multipart body is malformed: {e.Message}");
        }
    }

    private static async Task<(List<byte[]>?, int, string?)> ReadMultipartAsync(HttpRequest request, MediaTypeHeaderValue type, long maxBodyBytes, bool all,
        CancellationToken cancel)
    {
        string boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value ?? "";
        if (boundary.Length is 0 or > 200)
            return (null, 400, "The multipart/form-data Content-Type has no usable boundary.");
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = maxBodyBytes, HeadersCountLimit = 16, HeadersLengthLimit = 16 * 1024 };
        long left = maxBodyBytes;
        var images = new List<byte[]>();
        while (await reader.ReadNextSectionAsync(cancel) is { } section)
        {
            bool isImage = ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                           && disposition.DispositionType.Equals("form-data")
                           && HeaderUtilities.RemoveQuotes(disposition.Name).Equals(FieldName, StringComparison.Ordinal);
            // Other fields are read past (within the same limit) and dropped.
            if (await ReadLimitedAsync(section.Body, left, cancel) is not { } bytes)
                return (null, 413, TooLarge(maxBodyBytes, "the multipart body"));
            left -= bytes.Length;
            if (!isImage)
                continue;
            images.Add(bytes);
            if (!all)
                break;
        }
        return images.Count > 0 ? (images, 200, null)
            : (null, 400, $"The multipart/form-data body has no field '{FieldName}'; send the image as the field '{FieldName}' or as the whole body.");
    }

    /// <summary>Everything <paramref name="stream"/> holds, or null as soon as it holds more than <paramref name="limit"/> bytes.</summary>
    private static async Task<byte[]?> ReadLimitedAsync(Stream stream, long limit, CancellationToken cancel)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(chunk, cancel)) > 0)
            {
                if (buffer.Length + read > limit)
                    return null;
                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        return buffer.ToArray();
    }

    private static string TooLarge(long limit, string what) =>
        string.Create(CultureInfo.InvariantCulture,
            $"The upload is too large: {what} exceeds this server's limit of {limit:N0} bytes (--max-body-bytes).");
}
