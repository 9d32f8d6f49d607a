"""Stores know nothing of the Runner: one registry maps names, paths and classes to store
classes; adapters declare what they can do; no store module imports the store actor."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runic.store import BaseStore, MemoryStore, MnesiaStore, StoreArgumentError, supports_stream
from runic.store import registry


def test_names_paths_and_classes_resolve_to_store_classes() -> None:
    assert registry.store_class("memory") is MemoryStore
    assert registry.store_class("mnesia") is MnesiaStore
    assert registry.store_class(None) is MnesiaStore
    assert registry.store_class("runic.store.memory:MemoryStore") is MemoryStore
    assert registry.store_class(MnesiaStore) is MnesiaStore
    assert registry.class_path(MnesiaStore) == "runic.store.mnesia:MnesiaStore"
    assert registry.store_class(registry.class_path(MemoryStore)) is MemoryStore


@pytest.mark.parametrize("bad", ["redis", "runic.store:NoSuchStore", "nosuchmodule:Store", "runic.codec:dumps",
                                 dict, 42])
def test_anything_else_is_an_error_naming_the_accepted_forms(bad: object) -> None:
    with pytest.raises(StoreArgumentError) as info:
        registry.store_class(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value) or str(bad) in str(info.value)


def test_open_store_and_the_actor_spec_come_from_the_registry(tmp_path) -> None:
    with registry.open_store("mnesia", "app", {"dir": tmp_path}) as s:
        assert isinstance(s, MnesiaStore) and s.local_dir == str(tmp_path)
        s.save("wf", [1])
    spec = registry.actor_spec("memory", {"runner_name": "app"})
    assert spec.id == "app.Store"
    assert spec.start == ("runic.store.actor:StoreActor", {"store": "runic.store.memory:MemoryStore",
                                                           "runner_name": "app"})


def test_adapters_declare_what_they_can_do(tmp_path) -> None:
    assert MnesiaStore.shared and not MemoryStore.shared
    assert MnesiaStore.streams and MemoryStore.streams
    with MemoryStore("cap") as m:
        assert m.local_dir is None
        m.on_writer_start()  # nothing to do
        m.drop_tables()

    class SnapshotOnly(MemoryStore):
        streams = False

    assert not supports_stream(SnapshotOnly) and supports_stream(MemoryStore)
    assert issubclass(SnapshotOnly, BaseStore)


def test_store_modules_import_neither_the_actor_nor_the_actor_system() -> None:
    code = ("import sys, runic.store, runic.store.mnesia, runic.store.memory, runic.store.registry; "
            "print(sorted(m for m in ('runic.store.actor', 'runic.supervisor', 'thespian') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
