"""The encoder: the paper's ResNet-18 with the CIFAR stem and a 512 -> 128 normalised head."""

import pytest
import torch
from torch import nn

from contrastive import models


def test_resnet18_is_the_papers_encoder():
    torch.manual_seed(0)
    model = models.Encoder()
    conv1 = model.backbone.conv1
    assert (conv1.kernel_size, conv1.stride, conv1.padding) == ((3, 3), (1, 1), (1, 1))
    assert isinstance(model.backbone.maxpool, nn.Identity)
    assert isinstance(model.head, nn.Linear) and (
        model.head.in_features,
        model.head.out_features,
    ) == (512, 128)
    model.eval()
    with torch.no_grad():
        h, z = model(torch.randn(2, 3, 32, 32))
    assert h.shape == (2, 512) and z.shape == (2, 128)
    assert z.dtype == torch.float32
    torch.testing.assert_close(z.norm(dim=1), torch.ones(2))
    torch.testing.assert_close(
        model.embed(model.features(torch.randn(1, 3, 32, 32))).norm(dim=1), torch.ones(1)
    )


def test_resnet50_and_mlp_head_options():
    model = models.Encoder("resnet50", "mlp", 64)
    assert model.width == 2048
    assert isinstance(model.backbone.maxpool, nn.Identity) and model.backbone.conv1.stride == (1, 1)
    linears = [m for m in model.head if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2048, 2048), (2048, 64)]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"arch": "vgg"}, "arch"),
        ({"head_kind": "deep"}, "head"),
        ({"feature_dim": 0}, "feature_dim"),
    ],
)
def test_bad_options_are_rejected(kwargs, name):
    with pytest.raises(ValueError, match=name):
        models.Encoder(**kwargs)


def test_encode_batches_in_eval_mode_and_restores_the_mode():
    torch.manual_seed(0)
    model = models.Encoder("tiny")
    model.train()
    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    to_float = lambda x: x.float() / 255  # noqa: E731
    h, z = models.encode(model, images, to_float, batch_size=4)
    assert model.training
    model.eval()
    with torch.no_grad():
        h_ref, z_ref = model(to_float(images))
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(z, z_ref)
    assert h.shape == (10, 64) and z.shape == (10, 128)


@pytest.mark.parametrize("arch", ["resnet18", "resnet18_w16"])
def test_convolutions_start_as_the_init_says(arch):
    """PyTorch's default (the authors' code): uniform within 1/sqrt(fan_in), variance 1/(3 fan_in);
    torchvision's: normal with variance 2/fan_out (3-6x larger in the blocks' 3x3 convolutions)."""
    torch.manual_seed(0)
    default = models.backbone(arch, "pytorch")[0]
    torch.manual_seed(0)
    kaiming = models.backbone(arch, "torchvision")[0]
    convs = [(n, m) for n, m in default.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) >= 17
    for name, conv in convs:
        w = conv.weight.detach()
        fan_in, fan_out = w[0].numel(), w.shape[0] * w[0, 0].numel()
        assert w.abs().max() <= fan_in**-0.5
        assert w.var().item() == pytest.approx(1 / (3 * fan_in), rel=0.25), name
        other = dict(kaiming.named_modules())[name].weight.detach()
        assert other.var().item() == pytest.approx(2 / fan_out, rel=0.25), name


def test_init_must_be_known():
    with pytest.raises(ValueError, match="init"):
        models.backbone("resnet18_w16", "xavier")
