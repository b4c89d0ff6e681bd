"""How fast can the toy WGAN-GP step get from bf16 alone? The reference loop's networks, penalty and Adam run
entirely in bfloat16 (weights, activations, optimiser state: no casts at all), against the same loop in fp32.

    OMP_NUM_THREADS=2 python benchmarks/bf16_bound.py fp32
    OMP_NUM_THREADS=2 python benchmarks/bf16_bound.py bf16

Pure bf16 weights lose small Adam updates, so this is not a training recipe; it bounds what any mixed-precision
scheme (autocast, bf16 weight copies, fewer casts) could reach on this step at this size.
"""

import sys
import time

import torch
from torch import nn

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
BATCH, WIDTH = 256, 512


def mlp(n_in: int, n_out: int, dtype: torch.dtype) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in in (n_in, WIDTH, WIDTH):
        layers += [nn.Linear(fan_in, WIDTH), nn.ReLU()]
    layers.append(nn.Linear(WIDTH, n_out))
    return nn.Sequential(*layers).to(dtype)


def main() -> None:
    dtype = DTYPES[sys.argv[1]]
    torch.manual_seed(0)
    generator, critic = mlp(2, 2, dtype), mlp(2, 1, dtype)
    generator_opt = torch.optim.Adam(generator.parameters(), 1e-4, betas=(0.5, 0.9))
    critic_opt = torch.optim.Adam(critic.parameters(), 1e-4, betas=(0.5, 0.9))

    def critic_step() -> None:
        real = torch.randn(BATCH, 2, dtype=dtype)
        with torch.no_grad():
            fake = generator(torch.randn(BATCH, 2, dtype=dtype))
        loss = critic(fake).mean() - critic(real).mean()
        mix = torch.rand(BATCH, 1, dtype=dtype)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (gradient,) = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
        loss = loss + 0.1 * ((gradient.float().norm(2, dim=1) - 1) ** 2).mean()
        critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        critic_opt.step()

    def generator_step() -> None:
        critic.requires_grad_(False)
        loss = -critic(generator(torch.randn(BATCH, 2, dtype=dtype))).mean()
        generator_opt.zero_grad(set_to_none=True)
        loss.backward()
        generator_opt.step()
        critic.requires_grad_(True)

    def iterations(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            for _ in range(5):
                critic_step()
            generator_step()
        return (time.perf_counter() - start) / count

    iterations(5)
    print(f"{sys.argv[1]} threads={torch.get_num_threads()} sec_per_gen_iter={iterations(40):.4f}")


if __name__ == "__main__":
    main()
