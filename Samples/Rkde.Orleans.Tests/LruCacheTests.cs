using Rkde.Orleans.Grains;

namespace Rkde.Orleans.Tests;

[TestClass]
public sealed class LruCacheTests
{
    [TestMethod]
    public void TheLeastRecentlyUsedGoOutOverTheBudget()
    {
        var evicted = new List<string>();
        var cache = new LruCache<string, string>(budget: 10, cost: v => v.Length, evicted.Add);
        cache.Set("a", "aaaa");
        cache.Set("b", "bbbb");
        Assert.IsTrue(cache.TryGet("a", out _), "a is now the most recent");
        cache.Set("c", "cccc");

        CollectionAssert.AreEqual(new[] { "bbbb" }, evicted);
        Assert.IsFalse(cache.TryGet("b", out _));
        Assert.IsTrue(cache.TryGet("a", out var a));
        Assert.AreEqual("aaaa", a);
        Assert.AreEqual(2, cache.Count);
    }

    [TestMethod]
    public void AReplacedValueIsEvictedAndOneOverTheWholeBudgetStaysAlone()
    {
        var evicted = new List<string>();
        var cache = new LruCache<string, string>(budget: 5, cost: v => v.Length, evicted.Add);
        cache.Set("a", "aa");
        cache.Set("a", "a2");
        CollectionAssert.AreEqual(new[] { "aa" }, evicted);
        cache.Set("big", "bigger than five");
        CollectionAssert.AreEqual(new[] { "aa", "a2" }, evicted);
        Assert.IsTrue(cache.TryGet("big", out _));
        Assert.AreEqual(1, cache.Count);
    }

    [TestMethod]
    public void RemoveWherePushesOutTheMatchingValuesOnly()
    {
        var evicted = new List<string>();
        var cache = new LruCache<string, string>(budget: 100, cost: v => v.Length, evicted.Add);
        cache.Set("cam-a/1", "a1");
        cache.Set("cam-b/1", "b1");
        cache.Set("cam-a/2", "a2");
        Assert.AreEqual(1, cache.RemoveWhere(k => k == "cam-a/1"));
        CollectionAssert.AreEqual(new[] { "a1" }, evicted);
        Assert.IsFalse(cache.TryGet("cam-a/1", out _));
        Assert.IsTrue(cache.TryGet("cam-a/2", out _));
        Assert.IsTrue(cache.TryGet("cam-b/1", out _));
        // The budget counts what is left: two values of 2 and one more of 96 fit.
        cache.Set("big", new string('x', 96));
        Assert.AreEqual(3, cache.Count);
        Assert.AreEqual(0, cache.RemoveWhere(_ => false));
    }
}
