"""compiler/records.py: records behave as the dataclasses they replace, methods made lazily."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
from pyfast.compiler import records


@records.value
class Point:
    """A value record."""

    x: int
    y: int = 0


@dataclasses.dataclass(frozen=True)
class PointDC:
    x: int
    y: int = 0


@records.node
class Box:
    items: list = records.factory(list)
    label: str = "box"

    def __post_init__(self) -> None:
        self.size = len(self.items)


@records.node
class Labelled(Box):
    colour: str = "red"


def test_methods_are_made_on_first_use() -> None:
    @records.value
    class Fresh:
        a: int

    assert not callable(Fresh.__dict__["__init__"]) and not callable(Fresh.__dict__["__eq__"])
    assert Fresh(1) == Fresh(1)
    assert callable(Fresh.__dict__["__init__"]) and callable(Fresh.__dict__["__eq__"])
    assert not callable(Fresh.__dict__["__repr__"])


def test_value_records_compare_hash_and_print_like_frozen_dataclasses() -> None:
    a, b = Point(1, 2), Point(1, y=2)
    assert a == b and hash(a) == hash(b) and a != Point(1)
    assert (a == PointDC(1, 2)) is False  # another class: NotImplemented, then identity
    assert repr(a) == repr(PointDC(1, 2)).replace("PointDC", "Point")
    assert {a: 1}[b] == 1


def test_value_records_refuse_assignment_and_survive_copy_and_pickle() -> None:
    p = Point(3)
    with pytest.raises(AttributeError, match="cannot assign to field 'x'"):
        p.x = 4
    with pytest.raises(AttributeError):
        del p.y
    assert copy.deepcopy(p) == p == pickle.loads(pickle.dumps(p))
    assert records.replace(p, y=5) == Point(3, 5)


def test_nodes_compare_by_identity_and_make_defaults_per_instance() -> None:
    first, second = Box(), Box()
    assert first != second and first.items is not second.items
    assert first.size == 0 and Box([1, 2]).size == 2
    assert "items" not in Box.__dict__ and Box.label == "box"
    labelled = Labelled([1], "l", colour="blue")
    assert (labelled.items, labelled.label, labelled.colour, labelled.size) == ([1], "l", "blue", 1)
    with pytest.raises(TypeError):
        Point()
