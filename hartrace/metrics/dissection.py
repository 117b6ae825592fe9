"""Network dissection (Bau et al., CVPR 2017): how well each unit's strongest activations cover each concept.

Per unit ``u``: ``T_u`` is the top ``QUANTILE`` (0.5 %) level of its activations over
every spatial position of the split; its mask on an image is the activation map,
upsampled bilinearly to the input, above ``T_u``; and against concept ``c``

    IoU(u, c) = sum_images |mask and c| / sum_images |mask or c|,

the sums over the images where ``c`` appears, as the paper scores them. A unit with
IoU above ``DETECTOR_IOU`` (0.04 in the paper) detects ``c``. :class:`IoUCeiling` says
how high any unit could score at the layer's map size and firing budget.

:class:`DissectionTally` computes all of it in one streaming pass with memory that does
not grow with the split. ``T_u`` is not known until the pass ends, so the tally keeps,
per unit, a histogram of its raw activations and two histograms of its upsampled values
crossed with the concepts (the pixels of each concept; the pixels of the images where
each concept appears). At the end ``T_u`` is the first histogram edge with at most 0.5 %
of the raw values above it (at most one bin above the exact quantile, ``bin_width``),
and the IoU at ``T_u`` is a sum of whole bins, so it is exact for that threshold. Only
upsampled values above a running lower bound of ``T_u`` are binned: once more than 0.5 %
of the split's values (a count known in advance) have been seen above a level, ``T_u``
must lie above it, so values below it can never be in a mask.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: The share of a unit's activations above its threshold T_u (the paper's top 0.5 % quantile).
QUANTILE = 0.005
#: The IoU above which a unit counts as a detector of a concept (the paper's 0.04).
DETECTOR_IOU = 0.04
#: Histogram bins per unit: T_u is within (range / BINS) of the exact quantile.
BINS = 1024
#: Upsampled values handled at once, to bound memory.
_CHUNK = 1 << 23


class DissectionTally:
    """Streaming thresholds and unit x concept IoUs for one layer.

    Args:
        units: the layer's channels.
        positions: how many activation values each unit will see over the whole split
            (images x map height x map width); the lower bound that keeps the tally sparse needs it.
        concepts: how many concept ids the maps use (0: thresholds only, no IoU).
        mask_size: the side of the (square) concept maps; activation maps are upsampled to it.
    """

    def __init__(
        self,
        units: int,
        positions: int,
        concepts: int,
        mask_size: int,
        *,
        bins: int = BINS,
        quantile: float = QUANTILE,
        device: torch.device | str = "cpu",
    ) -> None:
        if units < 1 or positions < 1 or concepts < 0 or mask_size < 1 or bins < 2 or not 0 < quantile < 1:
            raise ValueError("a tally needs units, positions, mask_size >= 1, bins >= 2 and 0 < quantile < 1")
        self.units, self.positions, self.concepts, self.mask_size = units, positions, concepts, mask_size
        self.bins, self.quantile = bins, quantile
        self.device = torch.device(device)
        self.seen = 0
        self.low = torch.zeros(units, dtype=torch.float64, device=self.device)
        self.width = torch.zeros(units, dtype=torch.float64, device=self.device)
        # bin 0: values <= low; bin b >= 1: (low + (b - 1) width, low + b width]
        self.raw = torch.zeros(units, bins + 1, dtype=torch.int64, device=self.device)
        joint = (units, bins + 1, max(concepts, 1))
        self.inside = torch.zeros(joint, dtype=torch.int32, device=self.device)  # pixels of concept c
        self.present = torch.zeros(joint, dtype=torch.int32, device=self.device)  # pixels of images where c appears
        self.area = torch.zeros(max(concepts, 1), dtype=torch.int64, device=self.device)
        self.binned = 0  # upsampled values binned so far (what the lower bound saves is the rest)

    # -- streaming -----------------------------------------------------------------
    def add(self, maps: torch.Tensor, concept_maps: torch.Tensor | None = None) -> None:
        """One batch: activation maps ``[B, U, h, w]`` and, for the IoU, the concept ids of the same
        images ``[B, S, S]`` (``S = mask_size``; negative: no map for that image)."""
        if maps.dim() != 4 or maps.shape[1] != self.units:
            raise ValueError(f"expected maps [B, {self.units}, h, w], got {list(maps.shape)}")
        maps = maps.detach().to(self.device, torch.float32)
        self._fit_range(maps)
        flat = maps.transpose(0, 1).reshape(self.units, -1)
        self.raw.scatter_add_(
            1, self._bin(flat, self.low[:, None], self.width[:, None]), torch.ones_like(flat, dtype=torch.int64)
        )
        self.seen += flat.shape[1]
        if self.seen > self.positions:
            raise ValueError(f"the tally was told {self.positions} positions per unit and has seen {self.seen}")
        if self.concepts and concept_maps is not None:
            self._add_concepts(maps, concept_maps.to(self.device).long())

    def _fit_range(self, maps: torch.Tensor) -> None:
        """Set each unit's range on the first batch; later, double its bin width until its maximum fits,
        merging bins pairwise (exact: every old bin lies inside one new bin)."""
        high = maps.amax((0, 2, 3)).double()
        if self.seen == 0:
            self.low = maps.amin((0, 2, 3)).double()
            span = (high - self.low).clamp(min=1e-6 * self.low.abs().clamp(min=1.0))
            self.width = span / self.bins
            return
        need = (high - self.low) / (self.bins * self.width)
        grow = need > 1
        if not grow.any():
            return
        rows = grow.nonzero()[:, 0]  # only the units that grow are rebinned
        factor = torch.exp2(torch.ceil(torch.log2(need[rows])))
        target = torch.ceil(
            torch.arange(self.bins + 1, device=self.device, dtype=torch.float64)[None] / factor[:, None]
        )
        target = target.long().clamp(max=self.bins)  # [R, bins + 1]: old bin -> new bin (0 stays 0)
        for counts in (self.raw, self.inside, self.present):
            index = target if counts.dim() == 2 else target[:, :, None].expand(-1, -1, counts.shape[2])
            counts[rows] = torch.zeros_like(counts[rows]).scatter_add_(1, index, counts[rows])
        self.width[rows] = self.width[rows] * factor

    def _bin(self, values: torch.Tensor, low: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
        return torch.ceil((values.double() - low) / width).clamp(0, self.bins).long()

    def floor(self) -> torch.Tensor:
        """Per unit, a level T_u is already known to lie above (see the module's docstring)."""
        above = self._above()  # [U, bins + 1]: values above edge j
        known = (above > self.quantile * self.positions).sum(1) - 1  # the last edge with too many values above
        return self.low + known.clamp(min=0) * self.width

    def _add_concepts(self, maps: torch.Tensor, ids: torch.Tensor) -> None:
        batch, size, k, width = maps.shape[0], self.mask_size, self.concepts, self.bins + 1
        if ids.shape != (batch, size, size):
            raise ValueError(f"expected concept maps [{batch}, {size}, {size}], got {list(ids.shape)}")
        valid = (ids >= 0) & (ids < k)
        image_of = torch.arange(batch, device=self.device)[:, None, None].expand_as(ids)
        per_image = torch.bincount((image_of * k + ids)[valid], minlength=batch * k).view(batch, k)
        self.area += per_image.sum(0)
        appears = (per_image > 0).float()  # [B, K]
        floor = self.floor()
        pairs = (maps.amax((2, 3)) > floor[None]).nonzero()  # (image, unit) pairs whose map can pass T_u
        step = max(1, _CHUNK // (size * size))
        cells, images, labels = [], [], []
        for start in range(0, len(pairs), step):
            image, unit = pairs[start : start + step].T
            up = F.interpolate(maps[image, unit][:, None], size=(size, size), mode="bilinear", align_corners=False)
            which, y, x = (up[:, 0] > floor[unit][:, None, None]).nonzero(as_tuple=True)
            u, n = unit[which], image[which]
            cells.append(u * width + self._bin(up[which, 0, y, x], self.low[u], self.width[u]))  # (unit, bin)
            images.append(n)
            labels.append(ids[n, y, x])
        if not cells or not sum(len(c) for c in cells):
            return
        cell, n, c = torch.cat(cells), torch.cat(images), torch.cat(labels)
        self.binned += len(cell)
        ok = (c >= 0) & (c < k)
        ones = torch.ones(int(ok.sum()), dtype=torch.int32, device=self.device)
        self.inside.view(-1).index_add_(0, (cell * k + c)[ok], ones)
        # (unit, bin) x image counts, spread onto every concept that appears in the image
        counts = torch.sparse_coo_tensor(
            torch.stack([cell, n]),
            torch.ones(len(cell), device=self.device),
            (self.units * width, batch),
            check_invariants=False,
        )
        self.present += torch.sparse.mm(counts, appears).round().to(torch.int32).view_as(self.present)

    # -- results -------------------------------------------------------------------
    def _above(self) -> torch.Tensor:
        """``[U, bins + 1]``: per unit, how many raw values lie above edge ``j`` (``low + j * width``)."""
        suffix = self.raw.flip(1).cumsum(1).flip(1)  # values in bins >= j
        return torch.cat([suffix[:, 1:], torch.zeros_like(suffix[:, :1])], 1)

    def threshold_edges(self) -> torch.Tensor:
        """Per unit, the index ``j`` of the edge that is its T_u: the first with at most the quantile above it."""
        return (self._above() > self.quantile * self.seen).sum(1)

    def thresholds(self) -> torch.Tensor:
        """T_u per unit (float64): at most ``bin_width`` above the exact top-quantile level."""
        return self.low + self.threshold_edges() * self.width

    @property
    def bin_width(self) -> torch.Tensor:
        return self.width.clone()

    def ious(self) -> torch.Tensor:
        """``[U, concepts]`` IoU of each unit's mask (upsampled map > T_u) with each concept, over the images
        where the concept appears; NaN for a concept that appears nowhere."""
        if not self.concepts:
            return torch.zeros(self.units, 0, dtype=torch.float64)
        if self.seen < self.positions:
            raise ValueError(f"the tally has seen {self.seen} of the {self.positions} positions it was told of")
        edge = self.threshold_edges()  # the mask is the bins above it
        kept = torch.arange(self.bins + 1, device=self.device)[None, :, None] > edge[:, None, None]

        def above(counts: torch.Tensor) -> torch.Tensor:
            return torch.where(kept, counts, 0).sum(1, dtype=torch.float64)

        inside, mask = above(self.inside), above(self.present)
        union = mask + self.area.double()[None] - inside
        iou = torch.where(union > 0, inside / union.clamp(min=1), torch.zeros_like(union))
        return torch.where(self.area[None] > 0, iou, torch.full_like(iou, math.nan)).cpu()


#: Levels (shares of a cell covered by the concept) at which :class:`IoUCeiling` thresholds.
CEILING_LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 20))


class IoUCeiling:
    """How high any unit of a layer could score against each concept: an upper bound on its IoU.

    Two things cap it. The resolution: a unit of an ``h x w`` layer can only draw masks that
    are its map upsampled from ``h x w``, so a prop a few pixels wide cannot be outlined by a
    4 x 4 map, however well the unit detects it. That cap is the IoU (summed as
    :class:`DissectionTally` sums it) of the unit whose map is the concept's own mask averaged
    over each cell, upsampled the same way and thresholded at the level that suits the concept
    best. And the firing budget: a unit's mask is its top ``quantile`` of the split's positions,
    so it covers at most that share of the split's pixels; against a concept that covers more,
    the IoU is at most ``quantile x pixels / concept area``. The ceiling is the lower of the two:
    a unit near it detects the concept as sharply as the layer and the protocol allow.
    """

    def __init__(
        self,
        concepts: int,
        grid: tuple[int, int],
        mask_size: int,
        *,
        quantile: float = QUANTILE,
        device: torch.device | str = "cpu",
    ) -> None:
        if concepts < 1 or min(grid) < 1 or mask_size < 1 or not 0 < quantile < 1:
            raise ValueError("a ceiling needs concepts, a grid and a mask_size >= 1 and 0 < quantile < 1")
        self.concepts, self.grid, self.mask_size, self.quantile = concepts, grid, mask_size, quantile
        self.device = torch.device(device)
        self.levels = torch.tensor(CEILING_LEVELS, device=self.device)
        shape = (concepts, len(CEILING_LEVELS))
        self.inside = torch.zeros(shape, dtype=torch.float64, device=self.device)
        self.mask = torch.zeros(shape, dtype=torch.float64, device=self.device)
        self.area = torch.zeros(concepts, dtype=torch.float64, device=self.device)
        self.pixels = 0  # every pixel of the split the masks are compared at

    def add(self, ids: torch.Tensor) -> None:
        """Concept ids ``[B, S, S]`` (``S = mask_size``; negative: no map for that pixel)."""
        size = self.mask_size
        if ids.dim() != 3 or ids.shape[1:] != (size, size):
            raise ValueError(f"expected concept maps [B, {size}, {size}], got {list(ids.shape)}")
        ids = ids.to(self.device).long()
        self.pixels += ids.numel()
        for k in range(self.concepts):
            truth = ids == k
            appears = truth.flatten(1).any(1)
            if not appears.any():
                continue
            truth = truth[appears].float()[:, None]
            cells = F.adaptive_avg_pool2d(truth, self.grid)
            up = F.interpolate(cells, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
            fired = up[None] > self.levels[:, None, None, None]  # [L, B', S, S]
            self.inside[k] += (fired & (truth[None, :, 0] > 0)).flatten(1).sum(1).double()
            self.mask[k] += fired.flatten(1).sum(1).double()
            self.area[k] += truth.sum().double()

    def ious(self) -> torch.Tensor:
        """``[concepts]``: per concept the lower of the resolution's and the firing budget's caps; NaN for a
        concept that appeared nowhere."""
        union = self.mask + self.area[:, None] - self.inside
        resolution = (self.inside / union.clamp(min=1)).amax(1)
        budget = (self.quantile * self.pixels / self.area.clamp(min=1)).clamp(max=1)
        iou = torch.minimum(resolution, budget)
        return torch.where(self.area > 0, iou, torch.full_like(iou, math.nan)).cpu()
