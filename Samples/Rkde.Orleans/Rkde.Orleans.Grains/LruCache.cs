namespace Rkde.Orleans.Grains;

/// <summary>
/// A least-recently-used map bounded by the summed cost of its values, thread-safe. Values pushed out go to
/// <c>evicted</c>, outside the lock. A value costlier than the whole budget is kept alone until the next one arrives.
/// </summary>
internal sealed class LruCache<TKey, TValue>(long budget, Func<TValue, long> cost, Action<TValue>? evicted = null) where TKey : notnull
{
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value, long Cost)>> _map = new();
    private readonly LinkedList<(TKey Key, TValue Value, long Cost)> _order = new();
    private long _total;

    public bool TryGet(TKey key, out TValue value)
    {
        lock (_map)
        {
            if (_map.TryGetValue(key, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                value = node.Value.Value;
                return true;
            }
        }
        value = default!;
        return false;
    }

    /// <summary>Adds or replaces the value under <paramref name="key"/> as the most recent, pushing out the least recent ones over the budget.</summary>
    public void Set(TKey key, TValue value)
    {
        var out_ = new List<TValue>();
        lock (_map)
        {
            if (_map.Remove(key, out var old))
            {
                _order.Remove(old);
                _total -= old.Value.Cost;
                out_.Add(old.Value.Value);
            }
            long c = cost(value);
            _map[key] = _order.AddFirst((key, value, c));
            _total += c;
            while (_total > budget && _order.Count > 1)
            {
                var last = _order.Last!;
                _order.RemoveLast();
                _map.Remove(last.Value.Key);
                _total -= last.Value.Cost;
                out_.Add(last.Value.Value);
            }
        }
        foreach (var v in out_)
            evicted?.Invoke(v);
    }

    /// <summary>Pushes out (to <c>evicted</c>) every value whose key matches; returns how many.</summary>
    public int RemoveWhere(Func<TKey, bool> match)
    {
        var out_ = new List<TValue>();
        lock (_map)
        {
            foreach (var node in _map.Values.Where(n => match(n.Value.Key)).ToList())
            {
                _map.Remove(node.Value.Key);
                _order.Remove(node);
                _total -= node.Value.Cost;
                out_.Add(node.Value.Value);
            }
        }
        foreach (var v in out_)
            evicted?.Invoke(v);
        return out_.Count;
    }

    public int Count
    {
        get
        {
            lock (_map)
                return _map.Count;
        }
    }
}
