"""Checks every image critic must pass, shared by the DCGAN and ResNet tests."""

import torch
from torch import nn
from torch.testing import assert_close


def noise(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def assert_scores_each_sample_independently(critic: nn.Module, images: torch.Tensor) -> None:
    """The penalty's per-sample gradient needs f(batch)[i] = f(batch[i]): no norm that mixes samples."""
    alone = torch.cat([critic(image[None]) for image in images])
    assert_close(critic(images), alone, rtol=1e-5, atol=1e-6)


def assert_batch_norm_couples_in_training_only(critic: nn.Module, sample_shape: tuple[int, ...]) -> None:
    images = noise(4, *sample_shape)
    others = torch.cat([images[:1], noise(3, *sample_shape, seed=1)])
    critic.train()
    alone, among_others = critic(images)[0], critic(others)[0]
    # Relative to the score, not an absolute tolerance: these scores are small at init. Over 200 random ResNet
    # inits the training-mode change was at least 2e-4 of the score; float32 rounding is about 1e-7.
    assert (alone - among_others).abs() > 1e-5 * among_others.abs()
    critic.eval()
    assert_close(critic(images)[0], critic(others)[0])


def assert_double_backward_reaches_every_parameter(critic: nn.Module, images: torch.Tensor) -> None:
    """WGAN-GP's critic loss on `images` as interpolates: the penalty needs the double backward."""
    images = images.clone().requires_grad_(True)
    scores = critic(images)
    (gradient,) = torch.autograd.grad(scores.sum(), images, create_graph=True)
    penalty = ((gradient.flatten(1).norm(dim=1) - 1) ** 2).mean()
    (scores.mean() + 10 * penalty).backward()
    for name, parameter in critic.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
