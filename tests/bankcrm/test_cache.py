"""bankcrm.cache.TTLCache: kept until stale, misses not kept, and bounded when asked."""

from bankcrm.cache import TTLCache


def test_kept_until_stale_and_none_not_kept():
    cache, loads = TTLCache(seconds=60), []
    assert cache.get("a", lambda: loads.append(1) or "A") == "A"
    assert cache.get("a", lambda: loads.append(1) or "other") == "A"
    assert cache.get("b", lambda: None) is None and "b" not in cache._values
    stale = TTLCache(seconds=-1)
    stale.get("a", lambda: "A")
    assert stale.get("a", lambda: "B") == "B"
    assert loads == [1]


def test_max_entries_drops_stale_entries_then_everything():
    cache = TTLCache(seconds=60, max_entries=3)
    for key in "abc":
        cache.get(key, lambda key=key: key.upper())
    assert cache.get("d", lambda: "D") == "D"
    assert set(cache._values) == {"d"}  # none was stale: all went, the new one stays
    cache._values["d"] = (0.0, "D")  # stale now
    for key in "ef":
        cache.get(key, lambda key=key: key.upper())
    cache.get("g", lambda: "G")
    assert set(cache._values) == {"e", "f", "g"}  # the stale one made room
