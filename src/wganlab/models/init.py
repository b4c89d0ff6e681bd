"""Weight initialisation shared by every network family."""

import torch
from torch import nn

_INIT_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def init_weights(network: nn.Module, std: float, rng: torch.Generator) -> None:
    """DCGAN's init: conv and linear weights from N(0, std), biases zero; norm layers keep weight 1, bias 0.

    Every draw takes `rng`, so two networks built from the same seed are identical whatever else ran before.
    (std == 0, PyTorch's default init as the WGAN-GP reference code uses, is handled by `build_networks`.)
    """
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, _INIT_LAYERS):
                module.weight.normal_(0.0, std, generator=rng)
                if module.bias is not None:
                    module.bias.zero_()
