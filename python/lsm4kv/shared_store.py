"""One Store per directory per process, shared by the backends that name it.

A store directory can be open once per process (the store locks it), while
SGLang may build several backends over one directory in one process (MLA
ranks of a single process, a backend re-created after detach). open_shared
returns the process's Store for a directory, opening it on first use;
release closes it when its last user lets go. Thread-safe.
"""

import os
import threading

from ._lsm4kv import Store

_lock = threading.Lock()
_stores = {}  # realpath -> [Store, users]


def _key(path):
    return os.path.realpath(path)


def is_open(path):
    with _lock:
        return _key(path) in _stores


def open_shared(path, **options):
    key = _key(path)
    with _lock:
        entry = _stores.get(key)
        if entry is None:
            os.makedirs(key, exist_ok=True)
            entry = _stores[key] = [Store(key, **options), 0]
        entry[1] += 1
        return entry[0]


def release(path):
    key = _key(path)
    with _lock:
        entry = _stores.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _stores[key]
    entry[0].close()
