using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>The grain storage providers the grains persist through, by name.</summary>
public static class RkdeStorage
{
    /// <summary>Each camera's state: its model's version and entry hashes (small).</summary>
    public const string Cameras = "rkde-cameras";

    /// <summary>The model entries' bytes, one record per distinct entry, named by its SHA-256.</summary>
    public const string Blobs = "rkde-blobs";

    /// <summary>
    /// Runs a storage operation and turns a failed database connection into <see cref="ModelStoreUnavailableException"/>,
    /// which names what could not be done and that nothing stored is lost.
    /// </summary>
    internal static async Task<T> Guard<T>(Func<Task<T>> operation, string what)
    {
        try
        {
            return await operation();
        }
        catch (Exception e) when (RkdeCluster.IsDatabaseDown(e))
        {
            throw new ModelStoreUnavailableException(
                $"{what} failed: the model store's PostgreSQL database cannot be reached ({RkdeCluster.Innermost(e).Message}). " +
                "Models stored before are kept; repeat the call once the database is back.");
        }
    }

    /// <summary>Blob operations one fit or model load keeps in flight: a model is tens of chunks, and PostgreSQL's connections are few.</summary>
    internal const int OperationsAtOnce = 8;

    /// <summary>Runs <paramref name="operation"/> on every item, <see cref="OperationsAtOnce"/> at a time; the results in the items' order.</summary>
    internal static async Task<TResult[]> FewAtATime<TItem, TResult>(IEnumerable<TItem> items, Func<TItem, Task<TResult>> operation)
    {
        using var gate = new SemaphoreSlim(OperationsAtOnce);
        return await Task.WhenAll(items.Select(async item =>
        {
            await gate.WaitAsync();
            try
            {
                return await operation(item);
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    internal static Task Guard(Func<Task> operation, string what) => Guard(async () =>
    {
        await operation();
        return true;
    }, what);
}
