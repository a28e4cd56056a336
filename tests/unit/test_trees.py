"""copy_tree: a deep copy of values trees, faster than copy.deepcopy for plain data."""

import datetime

from harness_refarch.model.trees import copy_tree


def test_a_copy_shares_no_mapping_or_list_with_its_original() -> None:
    shared = {"x": [1, {"y": "z"}]}
    tree = {"a": shared, "b": shared, "when": datetime.date(2024, 1, 1), "n": None, "f": 1.5, "raw": b"\0"}
    copied = copy_tree(tree)
    assert copied == tree
    copied["a"]["x"][1]["y"] = "changed"
    copied["a"]["x"].append(2)
    assert tree == {"a": {"x": [1, {"y": "z"}]}, "b": shared, "when": datetime.date(2024, 1, 1), "n": None,
                    "f": 1.5, "raw": b"\0"}
    assert copied["b"]["x"][1]["y"] == "z"  # a node the original shared (a YAML alias) is copied twice


def test_anything_but_plain_data_is_deep_copied() -> None:
    tree = {"set": {1, 2}, "tuple": ([1],)}
    copied = copy_tree(tree)
    assert copied == tree and copied["set"] is not tree["set"] and copied["tuple"][0] is not tree["tuple"][0]
