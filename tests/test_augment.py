"""The batched augmentation against torchvision's per-image transforms, op by op and in distribution."""

import colorsys

import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.v2 as T2
import torchvision.transforms.v2.functional as TF

from contrastive import augment as A
from contrastive.data import MEAN, STD, normalize

torch.set_num_threads(1)


def images(n: int, seed: int = 0, size: int = 32) -> torch.Tensor:
    """Smooth, colourful uint8 test images (B, 3, size, size): random colour gradients plus noise."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 1, size)
    corner = torch.rand(n, 3, 2, 2, generator=g)
    x = (
        corner[..., 0, 0, None, None] * (1 - ramp)[:, None]
        + corner[..., 1, 1, None, None] * ramp[None, :]
        + 0.3 * corner[..., 0, 1, None, None] * ramp[:, None]
    )
    x = x + 0.1 * torch.rand(n, 3, size, size, generator=g)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def unnormalize(y: torch.Tensor, dataset: str = "cifar10") -> torch.Tensor:
    return y * torch.tensor(STD[dataset]).view(1, 3, 1, 1) + torch.tensor(MEAN[dataset]).view(
        1, 3, 1, 1
    )


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


IDENTITY = dict(hflip=False, scale=(1.0, 1.0), ratio=(1.0, 1.0), jitter=(0, 0, 0, 0), gray_p=0.0)


# --- the whole pipeline -------------------------------------------------------------------------


def test_shape_dtype_and_range():
    x = images(16)
    y = A.Augment()(x, gen(0))
    assert y.shape == (16, 3, 32, 32) and y.dtype == torch.float32 and y.device == x.device
    pixels = unnormalize(y)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_other_output_size():
    assert A.Augment(size=24)(images(4), gen(0)).shape == (4, 3, 24, 24)


def test_same_seed_same_output_other_seed_other_output():
    x, aug = images(8), A.Augment()
    assert torch.equal(aug(x, gen(1)), aug(x, gen(1)))
    assert not torch.allclose(aug(x, gen(1)), aug(x, gen(2)))


def test_each_image_gets_its_own_augmentation():
    x = images(1).expand(32, 3, 32, 32).contiguous()
    y = A.Augment()(x, gen(0)).flatten(1)
    distance = torch.cdist(y, y) + torch.eye(32) * 1e9
    assert distance.min() > 1e-3  # all 32 views of the same image differ


def test_identity_settings_give_the_normalised_input():
    x = images(8)
    assert torch.allclose(A.Augment(**IDENTITY)(x, gen(0)), normalize(x, "cifar10"), atol=1e-6)


def test_apply_is_deterministic_in_u_and_traces_as_one_graph():
    aug, x = A.Augment(), images(4)
    u = aug.draw(4, gen(3), "cpu")
    assert u.shape == (4, A.N_UNIFORM) and torch.equal(aug(x, gen(3)), aug.apply(x, u))
    compiled = torch.compile(
        aug.apply, backend="eager", fullgraph=True
    )  # fails on a graph break / host sync
    assert torch.allclose(compiled(x, u), aug.apply(x, u))


def test_flip_happens_to_about_half_and_is_an_exact_mirror():
    x = images(400)
    y = A.Augment(**{**IDENTITY, "hflip": True})(x, gen(0))
    plain, mirrored = normalize(x, "cifar10"), normalize(x.flip(-1), "cifar10")
    same = (y - plain).flatten(1).abs().amax(1) < 1e-5  # up to the hue op's HSV round trip
    flipped = (y - mirrored).flatten(1).abs().amax(1) < 1e-5
    assert torch.all(same ^ flipped)
    assert 160 < flipped.sum() < 240  # Binomial(400, 0.5): mean 200, sd 10


def test_grayscale_happens_to_about_p_and_has_equal_channels():
    x = images(500)
    pixels = unnormalize(A.Augment(**{**IDENTITY, "gray_p": 0.2})(x, gen(0)))
    gray = (pixels.amax(1) - pixels.amin(1)).flatten(1).amax(1) < 1e-5
    assert 70 < gray.sum() < 130  # Binomial(500, 0.2): mean 100, sd 9
    all_gray = unnormalize(A.Augment(**{**IDENTITY, "gray_p": 1.0})(x[:4], gen(0)))
    assert torch.allclose(all_gray[:, 0], all_gray[:, 1], atol=1e-5)
    assert torch.allclose(all_gray[:, 1], all_gray[:, 2], atol=1e-5)
    assert torch.allclose(all_gray[:, :1], A.grayscale(x[:4].float() / 255), atol=1e-5)


# --- the crop -----------------------------------------------------------------------------------


def test_resized_crop_equals_torchvision_for_given_boxes():
    x = images(6).float() / 255
    i, j = torch.tensor([0, 3, 10, 0, 5, 1]), torch.tensor([0, 7, 2, 0, 9, 4])
    h, w = torch.tensor([32, 10, 20, 7, 27, 31]), torch.tensor([32, 13, 22, 9, 23, 28])
    ours = A.resized_crop(x, i, j, h, w, 32)
    ref = torch.stack(
        [
            TF.resized_crop(
                x[k], int(i[k]), int(j[k]), int(h[k]), int(w[k]), [32, 32], antialias=True
            )
            for k in range(6)
        ]
    )
    assert torch.allclose(ours, ref, atol=1e-5)


def test_resized_crop_flip_is_the_mirror():
    x = images(3).float() / 255
    i, j, h, w = (
        torch.tensor([1, 0, 4]),
        torch.tensor([2, 0, 7]),
        torch.tensor([20, 32, 9]),
        torch.tensor([25, 32, 17]),
    )
    flipped = A.resized_crop(x, i, j, h, w, 32, flip=torch.tensor([True, True, False]))
    plain = A.resized_crop(x, i, j, h, w, 32)
    assert torch.equal(flipped[:2], plain[:2].flip(-1)) and torch.equal(flipped[2], plain[2])


def test_crop_falls_back_to_torchvisions_centre_crop():
    u = torch.rand(
        5, 22, generator=gen(0)
    )  # no try of area >= 0.9 with aspect in [2, 3] fits 32x32
    i, j, h, w = A.crop_boxes(u, 32, 32, scale=(0.9, 1.0), ratio=(2.0, 3.0))
    expected = T.RandomResizedCrop.get_params(torch.zeros(3, 32, 32), [0.9, 1.0], [2.0, 3.0])
    assert expected == (8, 0, 16, 32)
    assert all(torch.all(t == e) for t, e in zip((i, j, h, w), expected))


def crop_statistics(i, j, h, w) -> torch.Tensor:
    """Mean area fraction, mean log aspect ratio, P(w = 32), mean top and left position."""
    i, j, h, w = (t.double() for t in (i, j, h, w))
    return torch.stack(
        [(h * w / 1024).mean(), (w / h).log().mean(), (w == 32).double().mean(), i.mean(), j.mean()]
    )


def torchvision_crops(n: int, scale, ratio):
    torch.manual_seed(0)
    return torch.tensor(
        [T.RandomResizedCrop.get_params(torch.zeros(3, 32, 32), scale, ratio) for _ in range(n)]
    ).T


def test_crop_boxes_match_torchvision_in_distribution():
    n = 8000
    ref = crop_statistics(*torchvision_crops(n, [0.2, 1.0], [3 / 4, 4 / 3]))
    ours = crop_statistics(
        *A.crop_boxes(torch.rand(n, 22, generator=gen(0)), 32, 32, (0.2, 1.0), (3 / 4, 4 / 3))
    )
    tolerance = torch.tensor(
        [0.012, 0.012, 0.02, 0.25, 0.25]
    )  # about 4 standard errors of a difference
    assert torch.all((ours - ref).abs() < tolerance), (ours, ref)
    # the same comparison tells a different scale range apart
    other = crop_statistics(
        *A.crop_boxes(torch.rand(n, 22, generator=gen(0)), 32, 32, (0.08, 1.0), (3 / 4, 4 / 3))
    )
    assert not torch.all((other - ref).abs() < tolerance)


def test_crop_boxes_lie_inside_the_image_and_within_scale():
    i, j, h, w = A.crop_boxes(torch.rand(4000, 22, generator=gen(1)), 32, 32)
    assert torch.all((i >= 0) & (j >= 0) & (i + h <= 32) & (j + w <= 32) & (h >= 1) & (w >= 1))
    assert (h * w).min() >= 0.2 * 1024 * 0.9  # rounding of w and h can shave a little off the area


# --- colour -------------------------------------------------------------------------------------

FACTORS = torch.tensor([0.6, 0.8, 1.0, 1.2, 1.4, 0.0])


@pytest.mark.parametrize(
    "ours, ref",
    [
        (A.adjust_brightness, TF.adjust_brightness),
        (A.adjust_contrast, TF.adjust_contrast),
        (A.adjust_saturation, TF.adjust_saturation),
    ],
)
def test_blend_ops_equal_torchvision(ours, ref):
    x = images(6).float() / 255
    expected = torch.stack([ref(x[k], float(FACTORS[k])) for k in range(6)])
    assert torch.allclose(ours(x, FACTORS), expected, atol=1e-6)


def test_hue_equals_torchvision_and_zero_shift_is_identity():
    x = images(6).float() / 255
    shift = torch.tensor([-0.4, -0.2, 0.0, 0.1, 0.4, 0.5])
    expected = torch.stack([TF.adjust_hue(x[k], float(shift[k])) for k in range(6)])
    assert torch.allclose(A.adjust_hue(x, shift), expected, atol=1e-5)
    assert torch.allclose(A.adjust_hue(x, torch.zeros(6)), x, atol=1e-6)


def test_hsv_matches_colorsys_and_round_trips():
    x = torch.rand(2, 3, 8, 8, generator=gen(0))
    x[0, :, 0, 0] = torch.tensor([0.5, 0.5, 0.5])  # grey
    x[0, :, 0, 1] = 0.0  # black
    hsv = A.rgb_to_hsv(x)
    for b, r, c in [(0, 0, 0), (0, 0, 1), (1, 3, 4), (0, 7, 2), (1, 5, 5)]:
        expected = colorsys.rgb_to_hsv(*x[b, :, r, c].tolist())
        assert torch.allclose(hsv[b, :, r, c], torch.tensor(expected), atol=1e-6)
    assert torch.allclose(A.hsv_to_rgb(hsv), x, atol=1e-6)


def test_color_jitter_applies_the_ops_in_each_images_order():
    x = images(4).float() / 255
    factors = torch.tensor(
        [[0.7, 1.3, 0.6, 0.2], [1.2, 0.7, 1.4, -0.3], [0.9, 1.1, 0.0, 0.4], [1.4, 0.6, 1.2, -0.1]]
    )
    order = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]])
    refs = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for b in range(4):
        expected = x[b]
        for op in order[b].tolist():
            expected = refs[op](expected, float(factors[b, op]))
        assert torch.allclose(A.color_jitter(x, factors, order)[b], expected, atol=1e-5)


def pixel_statistics(p: torch.Tensor) -> torch.Tensor:
    """Per image: mean, std over pixels, mean chroma (max - min over channels), mean red-minus-blue."""
    return torch.stack(
        [
            p.mean((1, 2, 3)),
            p.std((1, 2, 3)),
            (p.amax(1) - p.amin(1)).mean((1, 2)),
            (p[:, 0] - p[:, 2]).mean((1, 2)),
        ],
        dim=1,
    )


def test_color_jitter_matches_torchvision_in_distribution():
    n = 400
    x = images(8, size=16).repeat(n, 1, 1, 1)  # n jitters of each of 8 images
    torch.manual_seed(0)
    jitter = T2.ColorJitter(0.4, 0.4, 0.4, 0.4)
    ref = pixel_statistics(torch.stack([jitter(img) for img in x.float() / 255])).view(n, 8, 4)

    def agrees(jitter: tuple) -> bool:
        """Mean and spread over the n jitters of each statistic of each image agree with torchvision's."""
        aug = A.Augment(**{**IDENTITY, "jitter": jitter}, size=16)
        ours = pixel_statistics(unnormalize(aug(x, gen(0)))).view(n, 8, 4)
        standard_error = ((ours.var(0) + ref.var(0)) / n).sqrt()
        means_agree = torch.all((ours.mean(0) - ref.mean(0)).abs() < 4.5 * standard_error)
        spreads_agree = torch.all((ours.std(0) / ref.std(0) - 1).abs() < 0.2)
        return bool(means_agree and spreads_agree)

    assert agrees((0.4, 0.4, 0.4, 0.4))
    assert not agrees((0.2, 0.2, 0.2, 0.1))  # the same comparison tells a weaker jitter apart


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(dataset="mnist"), "dataset"),
        (dict(size=0), "size"),
        (dict(scale=(0.5, 0.2)), "scale"),
        (dict(ratio=(0.0, 1.0)), "ratio"),
        (dict(jitter=(0.4, 0.4, 0.4, 0.6)), "jitter"),
        (dict(jitter=(-0.1, 0.4, 0.4, 0.4)), "jitter"),
        (dict(gray_p=1.5), "gray_p"),
    ],
)
def test_bad_settings_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        A.Augment(**kwargs)


def test_bad_input_raises():
    aug = A.Augment()
    with pytest.raises(ValueError, match="uint8"):
        aug(images(2).float(), gen(0))
    with pytest.raises(ValueError, match="shape"):
        aug(images(2)[:, :1], gen(0))
    with pytest.raises(ValueError, match="u must"):
        aug.apply(images(2), torch.rand(2, 5))


# --- the CPU path of the colour jitter ----------------------------------------------------------


def jitter_inputs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch after the crop and the jitter factors and orders that Augment draws for it."""
    aug, x = A.Augment(), images(n, seed)
    u = aug.draw(n, gen(seed), "cpu")
    i, j, h, w = A.crop_boxes(u[:, :22], 32, 32)
    bounds = enumerate(zip(aug._lo, aug._hi))
    factors = torch.stack([lo + (hi - lo) * u[:, 23 + k] for k, (lo, hi) in bounds], 1)
    return A.resized_crop(x.float() / 255, i, j, h, w, 32), factors, u[:, 27:31].argsort(dim=1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_selected_jitter_is_bitwise_the_fixed_shape_one(seed):
    x, factors, order = jitter_inputs(128 if seed < 3 else 5, seed)  # 5: some op drawn by none
    before = x.clone()
    selected = A.jitter_selected(x, factors, order)
    assert torch.equal(selected, A.jitter_fixed_shape(x, factors, order))
    assert torch.equal(x, before)  # the input is left alone


@pytest.mark.parametrize("seed", [0, 7])
def test_cpu_augment_is_bitwise_the_fixed_shape_pipeline(seed, monkeypatch):
    """The whole augmentation on the CPU: the pixels of the 28 CPU records' runs, either form."""
    x, aug = images(256, seed), A.Augment()
    fast = aug(x, gen(seed))
    monkeypatch.setattr(A, "color_jitter", A.jitter_fixed_shape)
    assert torch.equal(fast, aug(x, gen(seed)))


def test_cpu_eager_jitter_takes_the_selected_form(monkeypatch):
    """(Compiled, the fixed-shape form runs: see test_apply_is_deterministic_in_u_and_traces...)"""
    used = []
    monkeypatch.setattr(A, "jitter_selected", lambda *a: used.append("selected"))
    monkeypatch.setattr(A, "jitter_fixed_shape", lambda *a: used.append("fixed"))
    A.color_jitter(*jitter_inputs(8, 0))
    assert used == ["selected"]
