"""A map's mass per part and its rank agreement with the model's measured reliance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hartrace.metrics.reliance import part_mass, rank_agreement


def test_part_mass_is_each_parts_share_of_the_maps_non_negative_mass() -> None:
    maps = torch.tensor([[[4.0, 0.0], [1.0, -3.0]], [[0.0, 0.0], [0.0, 0.0]]])
    masks = torch.zeros(2, 3, 2, 2, dtype=torch.bool)
    masks[:, 0, 0, 0] = True  # part 0: top-left
    masks[:, 1, 1, :] = True  # part 1: bottom row (one negative value, clipped to 0)
    masks[:, 2, 0, 1] = True  # part 2: a pixel with no mass
    mass = part_mass(maps, masks)
    assert mass[0].tolist() == pytest.approx([4 / 5, 1 / 5, 0.0])
    assert mass[1].tolist() == [0.0, 0.0, 0.0]  # an empty map claims nothing
    with pytest.raises(ValueError, match="expected maps"):
        part_mass(maps, masks[:, :, :1])


def test_rank_agreement_is_spearmans_rho_and_nan_where_there_is_nothing_to_rank() -> None:
    reliance = np.array([0.5, 0.1, 0.0, 0.3])
    assert rank_agreement(np.array([0.6, 0.2, 0.1, 0.3]), reliance) == pytest.approx(1.0)  # same order
    assert rank_agreement(np.array([0.1, 0.3, 0.6, 0.2]), reliance) == pytest.approx(-1.0)  # reversed
    mass = np.array([0.6, 0.3, 0.1, 0.2])  # parts 1 and 3 swapped: rho = 1 - 6 * 2 / (4 * 15)
    ranks = lambda v: np.argsort(np.argsort(v))  # noqa: E731 - no ties here
    expected = np.corrcoef(ranks(mass), ranks(reliance))[0, 1]
    assert rank_agreement(mass, reliance) == pytest.approx(expected) == pytest.approx(0.8)
    assert math.isnan(rank_agreement(np.array([0.5, 0.5]), np.array([0.2, 0.1])))  # two parts
    assert math.isnan(rank_agreement(np.array([0.2, 0.2, 0.2]), np.array([0.3, 0.1, 0.0])))  # a flat map
    with pytest.raises(ValueError, match="same length"):
        rank_agreement(np.zeros(3), np.zeros(4))


def test_a_map_painted_with_the_reliance_agrees_perfectly_and_its_reverse_not_at_all() -> None:
    from hartrace.workflows.audit.reliance import RelianceScores

    parts = torch.full((8, 8), -1, dtype=torch.int16)
    parts[:4, :4], parts[:4, 4:], parts[4:, :4] = 0, 1, 2  # three parts of equal area, the rest bare wall
    scores = RelianceScores(
        names=[("head", "arms", "phone")],
        parts=[parts],
        predicted=np.array([3]),
        probability=np.array([0.9]),
        probability_after=[np.array([0.8, 0.2, 0.5])],  # reliance 0.1, 0.7, 0.4
        changed_after=[np.array([False, True, False])],
        has_evidence=np.array([True]),
        evidence_changed=np.array([True]),
        evidence_drop=np.array([0.85]),
        random_agreement=np.array([0.0]),
    )
    painted = torch.zeros(1, 8, 8)
    for k, value in enumerate(scores.reliance(0)):
        painted[0][parts == k] = float(value)
    rho, mass = scores.agreement(painted, 0)
    assert rho.tolist() == pytest.approx([1.0]) and mass[0] == pytest.approx([0.1 / 1.2, 0.7 / 1.2, 0.4 / 1.2])
    assert scores.agreement(0.8 - painted, 0)[0].tolist() == pytest.approx([-1.0])  # the bare wall holds the rest
