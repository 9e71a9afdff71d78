"""The paper's training augmentation (its experimental setup and the authors' code) as batched tensor ops on the device.

Each sample gets its own parameters, one row of uniforms drawn on the device (:meth:`Augment.draw`) that a pure
function turns into the augmented batch (:meth:`Augment.apply`): no per-sample loop, no PIL, no host synchronisation,
no data-dependent control flow and fixed shapes, so ``apply`` traces as one graph under ``torch.compile`` and can be
captured in a CUDA graph. The operations follow torchvision's on float images in [0, 1]; the authors' code [code] ran
them on PIL images, which round to uint8 after each step.

One exception: in eager mode on the CPU, the colour jitter applies each operation only to the images
that drew it (:func:`color_jitter`), the same pixels with a quarter of the work.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .data import DATASETS, MEAN, normalize

_TRIES = 10
"""Attempts of RandomResizedCrop's rejection sampling before it falls back to a centre crop."""
_CROP = 2 * _TRIES + 2
N_UNIFORM = _CROP + 1 + 4 + 4 + 1
"""Uniforms per image: crop tries and position, flip, four jitter factors, jitter order, grayscale."""


def crop_boxes(
    u: Tensor,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.2, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Crop boxes (top i, left j, height h, width w), int64 (B,) each, as RandomResizedCrop draws them from the
    uniforms ``u`` (B, 22): per sample, 10 tries of area ~ U(scale) * height * width (columns 0-9) and log aspect
    ratio ~ U(log ratio) (columns 10-19); the first try that fits is placed uniformly at random (columns 20, 21),
    else torchvision's fallback centre crop. Evaluating all tries at once and keeping the first fitting one gives
    exactly torchvision's distribution."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    target_area = area * (scale[0] + (scale[1] - scale[0]) * u[:, :_TRIES])
    aspect = torch.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * u[:, _TRIES : 2 * _TRIES])
    w_try = torch.round(torch.sqrt(target_area * aspect)).long()
    h_try = torch.round(torch.sqrt(target_area / aspect)).long()
    fits = (w_try > 0) & (w_try <= width) & (h_try > 0) & (h_try <= height)
    first = fits.int().argmax(dim=1, keepdim=True)  # index of the first fitting try (0 if none)
    found = fits.any(dim=1)
    h_fb, w_fb = _fallback(height, width, ratio)
    h = torch.where(found, h_try.gather(1, first).squeeze(1), h_fb)
    w = torch.where(found, w_try.gather(1, first).squeeze(1), w_fb)
    i = torch.minimum((u[:, 2 * _TRIES] * (height - h + 1)).long(), height - h)
    j = torch.minimum((u[:, 2 * _TRIES + 1] * (width - w + 1)).long(), width - w)
    i = torch.where(found, i, (height - h) // 2)
    j = torch.where(found, j, (width - w) // 2)
    return i, j, h, w


def _fallback(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """RandomResizedCrop's crop size (h, w) when no try fits: the whole image, clipped to ``ratio``."""
    in_ratio = width / height
    if in_ratio < min(ratio):
        return int(round(width / min(ratio))), width
    if in_ratio > max(ratio):
        return height, int(round(height * max(ratio)))
    return height, width


def resized_crop(
    x: Tensor, i: Tensor, j: Tensor, h: Tensor, w: Tensor, size: int, flip: Tensor | None = None
) -> Tensor:
    """Crop box (i, j, h, w) of each float image in x (B, C, H, W), resized bilinearly to (size, size): output pixel u
    samples the crop at j + (u + 0.5) w / size - 0.5, clamped to its edge pixels, as ``interpolate(mode="bilinear",
    align_corners=False)``: torchvision's antialiased resize whenever size >= the crop, as always for 32 -> 32 (no
    antialiasing when shrinking). ``flip`` (bool (B,)) mirrors those images left-right. Separable: two batched
    gathers, exact in float32."""
    y0, y1, fy = _taps(i, h, size, x.shape[2])
    x0, x1, fx = _taps(j, w, size, x.shape[3])
    if flip is not None:
        f = flip[:, None]
        x0, x1, fx = (torch.where(f, t.flip(1), t) for t in (x0, x1, fx))
    return _lerp(_lerp(x, 2, y0, y1, fy), 3, x0, x1, fx)


def _lerp(x: Tensor, dim: int, k0: Tensor, k1: Tensor, frac: Tensor) -> Tensor:
    """Per image, along ``dim`` (2: rows, 3: columns) of x: (1 - frac) x[k0] + frac x[k1], taps (B, size)."""
    view = (x.shape[0], 1, -1, 1) if dim == 2 else (x.shape[0], 1, 1, -1)
    shape = list(x.shape)
    shape[dim] = k0.shape[1]
    frac = frac.view(view)
    return (
        x.gather(dim, k0.view(view).expand(shape)) * (1 - frac)
        + x.gather(dim, k1.view(view).expand(shape)) * frac
    )


def _taps(start: Tensor, length: Tensor, size: int, extent: int) -> tuple[Tensor, Tensor, Tensor]:
    """Bilinear taps along one axis: indices k0, k1 (B, size) and the weight of k1."""
    u = torch.arange(size, device=start.device, dtype=torch.float32)
    start, length = start[:, None].float(), length[:, None].float()
    pos = (start + (u + 0.5) * length / size - 0.5).clamp(start, start + length - 1)
    k0 = pos.floor()
    return k0.long(), (k0 + 1).clamp(max=extent - 1).long(), pos - k0


def grayscale(x: Tensor) -> Tensor:
    """Luma 0.2989 R + 0.587 G + 0.114 B of float images (B, 3, H, W), shape (B, 1, H, W) (torchvision's weights)."""
    return 0.2989 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def _blend(x: Tensor, other: Tensor, factor: Tensor) -> Tensor:
    """factor * x + (1 - factor) * other, clamped to [0, 1]; factor (B,) per image."""
    f = factor.view(-1, 1, 1, 1)
    return (f * x + (1 - f) * other).clamp(0, 1)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """Scale float images (B, 3, H, W) in [0, 1] by factor (B,), clamped: blend with black."""
    return _blend(x, torch.zeros_like(x), factor)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each image with its mean luma (a flat grey image) by factor (B,)."""
    return _blend(x, grayscale(x).mean(dim=(1, 2, 3), keepdim=True), factor)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each image with its own grayscale version by factor (B,)."""
    return _blend(x, grayscale(x), factor)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue of each image by shift (B,), in turns (in [-0.5, 0.5]), through HSV."""
    hsv = rgb_to_hsv(x)
    hue = torch.remainder(hsv[:, 0:1] + shift.view(-1, 1, 1, 1), 1.0)
    return hsv_to_rgb(torch.cat((hue, hsv[:, 1:]), dim=1))


def rgb_to_hsv(x: Tensor) -> Tensor:
    """Float RGB images (B, 3, H, W) in [0, 1] -> HSV, each channel in [0, 1] (hue in turns; 0 where grey)."""
    r, g, b = x.unbind(dim=1)
    v = x.amax(dim=1)
    chroma = v - x.amin(dim=1)
    grey = chroma == 0
    c = torch.where(grey, torch.ones_like(chroma), chroma)
    s = torch.where(v > 0, chroma / torch.where(v > 0, v, torch.ones_like(v)), torch.zeros_like(v))
    h = torch.where(
        v == r,
        torch.remainder((g - b) / c, 6.0),
        torch.where(v == g, (b - r) / c + 2.0, (r - g) / c + 4.0),
    )
    h = torch.where(grey, torch.zeros_like(h), h / 6.0)
    return torch.stack((h, s, v), dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """HSV images (B, 3, H, W), channels in [0, 1] -> RGB in [0, 1]: channel n in (R, G, B) is
    v - v s clamp(min(k, 4 - k), 0, 1) with k = (n' + 6 h) mod 6, n' = 5, 3, 1."""
    h, s, v = hsv[:, 0:1], hsv[:, 1:2], hsv[:, 2:3]
    n = torch.arange(5, 0, -2, device=hsv.device, dtype=hsv.dtype).view(1, 3, 1, 1)
    k = torch.remainder(n + 6.0 * h, 6.0)
    return v - v * s * torch.minimum(k, 4.0 - k).clamp(0, 1)


_JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def color_jitter(x: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """ColorJitter with per-image factors (B, 4) = (brightness, contrast, saturation, hue shift), applied in
    per-image order (B, 4), a permutation of 0..3: :func:`jitter_selected` in eager mode on the CPU,
    else :func:`jitter_fixed_shape` (on CUDA, where selecting images waits for the device, and under
    ``torch.compile``, which needs fixed shapes). Both give the same pixels, bit for bit: each
    operation works image by image."""
    if x.device.type == "cpu" and not torch.compiler.is_compiling():
        return jitter_selected(x, factors, order)
    return jitter_fixed_shape(x, factors, order)


def jitter_fixed_shape(x: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """Step t computes all four operations on the batch and each image b keeps ``order[b, t]``:
    fixed shapes, no indexing by data, 16 op applications where 4 are needed."""
    for t in range(4):
        outs = torch.stack([op(x, factors[:, k]) for k, op in enumerate(_JITTER_OPS)])
        x = outs.gather(0, order[:, t].view(1, -1, 1, 1, 1).expand(1, *x.shape)).squeeze(0)
    return x


def jitter_selected(x: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """Step t applies each operation once, to the images that drew it at step t (their rows of x):
    4 op applications on B images in all. Shapes depend on the draws (a host sync on CUDA)."""
    x = x.clone()
    for t in range(4):
        for k, op in enumerate(_JITTER_OPS):
            rows = (order[:, t] == k).nonzero().squeeze(1)
            if rows.numel():
                x[rows] = op(x[rows], factors[rows, k])  # disjoint rows: none reads another's
    return x


class Augment:
    """The paper's augmentation of a uint8 batch, each image with its own random parameters.

    In order, as torchvision's transforms: RandomResizedCrop to ``size`` (bilinear), ColorJitter (``jitter``, in a
    random order per image), RandomGrayscale (``gray_p``), horizontal flip with probability 1/2 (``hflip``), then
    normalisation with ``dataset``'s MEAN/STD. Flip is on by default because the paper's text says flip; the
    authors' code [code] has it commented out (``hflip=False`` reproduces the code). The colour jitter is always
    applied (no RandomApply), as in the authors' code.
    """

    def __init__(
        self,
        dataset: str = "cifar10",
        hflip: bool = True,
        size: int = 32,
        scale: tuple[float, float] = (0.2, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.4),
        gray_p: float = 0.2,
    ):
        if dataset not in MEAN:
            raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
        if not (isinstance(size, int) and size >= 1):
            raise ValueError(f"size must be an int >= 1, got {size!r}")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi, got {scale!r}")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must be (lo, hi) with 0 < lo <= hi, got {ratio!r}")
        if len(jitter) != 4 or min(jitter) < 0 or jitter[3] > 0.5:
            raise ValueError(
                f"jitter must be 4 values (brightness, contrast, saturation >= 0; hue in [0, 0.5]), got {jitter!r}"
            )
        if not 0 <= gray_p <= 1:
            raise ValueError(f"gray_p must be in [0, 1], got {gray_p!r}")
        self.dataset, self.hflip, self.size, self.gray_p = dataset, hflip, size, gray_p
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        b, c, s, h = jitter
        self._lo = (max(0.0, 1 - b), max(0.0, 1 - c), max(0.0, 1 - s), -h)
        self._hi = (1 + b, 1 + c, 1 + s, h)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Augment uint8 x (B, 3, H, W) to normalised float32 (B, 3, size, size) with ``generator`` (on x's device)."""
        return self.apply(x, self.draw(x.shape[0], generator, x.device))

    def draw(self, batch: int, generator: torch.Generator, device: torch.device | str) -> Tensor:
        """The uniforms (batch, 32) that :meth:`apply` turns into one augmentation per image."""
        return torch.rand(batch, N_UNIFORM, generator=generator, device=device)

    def apply(self, x: Tensor, u: Tensor) -> Tensor:
        """Augment uint8 x (B, 3, H, W) with the uniforms u (B, 32) of :meth:`draw` (drawn outside: torch.compile does
        not take generators). Columns of u: 0-21 the crop, 22 flip, 23-26 jitter factors, 27-30 the order, 31 grayscale."""
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"x must be uint8 of shape (B, 3, H, W), got {x.dtype} {tuple(x.shape)}"
            )
        if u.shape != (x.shape[0], N_UNIFORM):
            raise ValueError(f"u must have shape ({x.shape[0]}, {N_UNIFORM}), got {tuple(u.shape)}")
        i, j, h, w = crop_boxes(u[:, :_CROP], x.shape[2], x.shape[3], self.scale, self.ratio)
        flip = u[:, 22] < 0.5 if self.hflip else None
        out = resized_crop(x.float() / 255, i, j, h, w, self.size, flip)
        factors = torch.stack(
            [lo + (hi - lo) * u[:, 23 + k] for k, (lo, hi) in enumerate(zip(self._lo, self._hi))],
            dim=1,
        )
        out = color_jitter(out, factors, u[:, 27:31].argsort(dim=1))
        out = torch.where(
            (u[:, 31] < self.gray_p).view(-1, 1, 1, 1), grayscale(out).expand_as(out), out
        )
        return normalize(out, self.dataset)
