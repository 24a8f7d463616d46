"""Markdown shape checks of list, key-point and table outputs."""

from __future__ import annotations

import pytest

from services.rewriter.shapes import list_problem, normalise_bullets, table_cells, table_problem


@pytest.mark.parametrize(
    "text",
    [
        "- milk\n- eggs",
        "* milk\n* eggs\n* bread",
        "1. call Ana\n2. book the room",
        "Key points:\n- budget is approved\n- launch is on May 3",
    ],
)
def test_lists_pass(text: str) -> None:
    assert list_problem(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "milk, eggs and bread",
        "- only one item",
        "- milk\nand also some prose in between\n- eggs",
        "Here you go:\n- milk\n- eggs\nHope this helps!",
    ],
)
def test_non_lists_fail(text: str) -> None:
    assert list_problem(text) is not None


def test_bullets_are_normalised_to_dashes() -> None:
    assert normalise_bullets("* a\n• b\n  + c\n1. d") == "- a\n- b\n  - c\n1. d"


def test_table_cells_with_and_without_outer_pipes() -> None:
    assert table_cells("| a | b |") == ["a", "b"]
    assert table_cells("a | b") == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    [
        "| Name | Role |\n| --- | --- |\n| Ana | lead |",
        "Name | Role\n:--- | ---:\nAna | lead\nBen | dev",
    ],
)
def test_tables_pass(text: str) -> None:
    assert table_problem(text) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("| Name | Role |\n| --- | --- |", "need header"),
        ("| Name |\n| --- |\n| Ana |", "2 columns"),
        ("| Name | Role |\n| Ana | lead |\n| Ben | dev |", "separator"),
        ("| Name | Role |\n| --- | --- |\n| Ana | lead | extra |", "cells"),
        ("| Name | Role |\n| --- | --- |\nAna is the lead", "no cell separator"),
        ("| Name | Role |\n| --- | --- |\n|  |  |", "empty"),
    ],
)
def test_non_tables_fail_with_a_reason(text: str, why: str) -> None:
    problem = table_problem(text)
    assert problem is not None and why in problem
