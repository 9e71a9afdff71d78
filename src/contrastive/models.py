"""The encoder f of the paper (its experimental setup): a ResNet backbone with a projection head.

The backbone is torchvision's ResNet with the CIFAR stem (a 3x3 stride-1 first convolution and no max-pool, for
32x32 input); the head maps its pooled output ``h`` to the 128-d embedding ``z = f(x)`` on the unit sphere, on which
all similarities s_ij of Eq. 1-9 are taken. Not from the paper: ``arch="resnet18_w16"``, ResNet-18 at a quarter of
the width (1/16 of the compute), the network of the CPU-scale protocol; ``arch="tiny"``, for tests and smoke runs.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from .checks import check_int

NARROW = {"resnet18_w16": 16}
"""Narrow CIFAR ResNet-18s by name: their base width (the paper's ResNet-18 has 64)."""
ARCHS = ("resnet18", *NARROW, "resnet50", "tiny")
HEADS = ("linear", "mlp")
INITS = ("pytorch", "torchvision")
"""How the convolutions start: PyTorch's default (Kaiming-uniform with a = sqrt(5), bound 1/sqrt(fan_in): the
authors' CIFAR ResNet-18 sets no initialisation of its own), or torchvision's ResNet (Kaiming-normal, fan-out)."""


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


class _NarrowResNet18(torchvision.models.ResNet):
    """torchvision's ResNet-18 with base width ``width`` instead of 64 (stages of 1, 2, 4 and 8 times ``width``)."""

    def __init__(self, width: int) -> None:
        super().__init__(torchvision.models.resnet.BasicBlock, [2, 2, 2, 2])
        self.inplanes = width
        self.conv1, self.bn1 = nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(torchvision.models.resnet.BasicBlock, width, 2)
        for i in (2, 3, 4):
            setattr(
                self,
                f"layer{i}",
                self._make_layer(
                    torchvision.models.resnet.BasicBlock, width * 2 ** (i - 1), 2, stride=2
                ),
            )
        self.fc = nn.Linear(8 * width, 1000)


def backbone(arch: str = "resnet18", init: str = "pytorch") -> tuple[nn.Module, int]:
    """A backbone mapping (B, 3, 32, 32) images to (B, width) pooled features, and its width: a ResNet with the
    CIFAR stem and no classifier, its convolutions started as ``init`` says (:data:`INITS`)."""
    _check_choice("arch", arch, ARCHS)
    _check_choice("init", init, INITS)
    if (
        arch == "tiny"
    ):  # two conv-BN-ReLU layers and global pooling, 64-d: for tests only, not the paper's network
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        ), 64
    net = (
        _NarrowResNet18(NARROW[arch])
        if arch in NARROW
        else getattr(torchvision.models, arch)(weights=None)
    )
    net.conv1 = nn.Conv2d(3, net.conv1.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    width = net.fc.in_features
    net.fc = nn.Identity()
    for m in net.modules():  # BatchNorm starts at weight 1, bias 0 either way
        if isinstance(m, nn.Conv2d) and init == "pytorch":
            m.reset_parameters()
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net, width


def head(kind: str, width: int, feature_dim: int) -> nn.Module:
    """The projection head: ``linear``, the paper's [code], or ``mlp``, width -> width -> ReLU -> feature_dim (SimCLR)."""
    _check_choice("head", kind, HEADS)
    if kind == "linear":
        return nn.Linear(width, feature_dim)
    return nn.Sequential(
        nn.Linear(width, width), nn.ReLU(inplace=True), nn.Linear(width, feature_dim)
    )


class Encoder(nn.Module):
    """f: images -> (h, z), h the pooled backbone feature (B, width), z = normalize(head(h)) (B, feature_dim) in
    float32 whatever the autocast dtype. The defaults are the paper's: ResNet-18 and a linear 512 -> 128 head."""

    def __init__(
        self,
        arch: str = "resnet18",
        head_kind: str = "linear",
        feature_dim: int = 128,
        init: str = "pytorch",
    ) -> None:
        super().__init__()
        check_int("feature_dim", feature_dim, 1)
        self.backbone, self.width = backbone(arch, init)
        self.head = head(head_kind, self.width, feature_dim)

    def features(self, x: Tensor) -> Tensor:
        """The global-pooled backbone feature h, (B, width); what the linear probe is trained on."""
        return self.backbone(x)

    def embed(self, h: Tensor) -> Tensor:
        """The embedding z = f(x) on the unit sphere from the pooled feature h, (B, feature_dim), float32."""
        return F.normalize(self.head(h).float(), dim=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.features(x)
        return h, self.embed(h)


@torch.no_grad()
def encode(
    model: Encoder, images: Tensor, transform, batch_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """(h, z) of every uint8 image (N, 3, H, W) in eval mode (restored after), in float32 without autocast: full
    precision for the probe and the metrics. ``transform`` maps a uint8 batch to the network's input."""
    was_training = model.training
    model.eval()
    hs, zs = [], []
    for a in range(0, images.shape[0], batch_size):
        x = transform(images[a : a + batch_size])
        h, z = model(x.contiguous(memory_format=torch.channels_last))
        hs.append(h.float())
        zs.append(z)
    model.train(was_training)
    return torch.cat(hs), torch.cat(zs)


def autocast(device: torch.device, enabled: bool):
    """bfloat16 autocast for the training step where ``enabled`` (``Config.use_bf16``). On a CPU it is
    fast only where the cores have bfloat16 matrix units (``cpu_bf16_fast``); evaluation never uses it."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


@functools.cache  # read the file once per process: every training step asks (Config.use_bf16)
def cpu_bf16_fast() -> bool:
    """Whether this CPU has bfloat16 instructions (AMX or AVX-512 BF16), where bfloat16 autocast speeds
    up training (measured at width 16: 1.7x with AMX, 1.5x on an AVX-512 BF16 machine)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
        return "amx_bf16" in flags or "avx512_bf16" in flags
    except OSError:
        return False
