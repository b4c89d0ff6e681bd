"""What a run measures besides its losses, at log.eval_every and once at the end: `Evaluation` (sample quality
through `training/quality.py`, best.pt, the critic's held-out estimate and its diagnostics). The loop calls
`Evaluation.periodic` and `Evaluation.final`; everything else here is theirs."""

import contextlib
import math

import torch
from torch import Tensor

from wganlab.errors import TrainingDiverged
from wganlab.training.checkpoint import Checkpointer, EndOfRun
from wganlab.training.logbook import Logbook
from wganlab.training.quality import ImageQuality, NonFiniteSamples, build_quality
from wganlab.training.state import TrainState, make_rng


class Evaluation:
    """What a run measures besides its losses: sample quality every log.eval_every steps (a better headline
    value than any before also writes best.pt), the critic's estimate on held-out real data at the same steps,
    and log.final_metrics once at the end. Only process 0 measures."""

    def __init__(self, s: TrainState):
        self.s = s
        self.quality = build_quality(s.config)
        self._heldout: Tensor | None = None

    def periodic(self, book: Logbook, checkpoints: Checkpointer, end: EndOfRun | None = None) -> None:
        """Non-finite samples or values are a divergence, never a score (exact W1 of NaN points is 0). Under
        torchrun process 0 evaluates and tells the others, so that all of them stop together. `end`: at the last
        step, which notes what an end-of-run evaluation does to best.pt."""
        s = self.s
        problem = None
        if s.dist.is_main:
            try:
                self._measure(book, checkpoints, end)
            except NonFiniteSamples as err:
                problem = checkpoints.diverged(s.step, str(err))
            except TrainingDiverged as err:
                problem = err
        if s.dist.is_distributed:
            flag = torch.tensor([problem is not None], dtype=torch.int32, device=s.device)
            torch.distributed.broadcast(flag, src=0)
            if flag.item() and problem is None:
                problem = checkpoints.diverged(s.step, "process 0's evaluation diverged")
        if problem is not None:
            raise problem

    def _measure(self, book: Logbook, checkpoints: Checkpointer, end: EndOfRun | None) -> None:
        s = self.s
        offset = self.draw_offset()
        rng = make_rng(s.config.train.seed, "eval", s.device, offset=offset)
        n = s.config.log.eval_samples
        values = self.quality.measure(s.generator.network, self.quality.during_training, n=n, rng=rng)
        if s.ema is not None:  # the averaged generator on the same z, its keys ending in _ema
            rng = make_rng(s.config.train.seed, "eval", s.device, offset=offset)
            averaged = self.quality.measure(s.ema.network, self.quality.during_training, n=n, rng=rng)
            values.update({f"{key}_ema": value for key, value in averaged.items()})
        heldout_rng = make_rng(s.config.train.seed, "heldout", s.device, offset=offset)
        estimate = self.heldout_estimate(n, heldout_rng)
        if estimate is not None:
            values[f"heldout_{s.loss.estimate_name}"] = estimate
            values["critic_grad_norm"] = self.critic_gradient_norm(heldout_rng)
        if s.config.objective.constraint == "clip":
            values["clip_share"] = self.clip_share()
        bad = {k: v for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)}
        if bad:
            raise checkpoints.diverged(s.step, f"non-finite evaluation ({listing(bad)})")
        book.record(s.step, s.images_seen, "eval", values)
        if values[self.quality.headline] < s.best_metric:
            if end is not None and end.eval:
                end.best = checkpoints.keep_best_before(s)
            s.best_metric = values[self.quality.headline]
            checkpoints.save_best(s, end)

    def final(self, book: Logbook) -> None:
        s = self.s
        metrics = tuple(s.config.log.final_metrics)
        n = s.config.log.final_samples
        values = self.quality.measure(
            s.generator.network, metrics, n=n, rng=make_rng(s.config.train.seed, "final", s.device)
        )
        if s.ema is not None:  # the averaged generator on the same z, its keys ending in _ema
            rng = make_rng(s.config.train.seed, "final", s.device)
            averaged = self.quality.measure(s.ema.network, metrics, n=n, rng=rng)
            values.update({f"{key}_ema": value for key, value in averaged.items()})
        book.record(s.step, s.images_seen, "final", {**values, "samples": s.config.log.final_samples})

    def critic_gradient_norm(self, rng: torch.Generator) -> float:
        """Mean ||grad_x f(x)|| at points between held-out real samples and fresh fakes (where the penalty looks):
        1 for an optimal 1-Lipschitz critic, far below it for a clipped critic with a small K (seed 002, WGAN-GP
        Fig. 1b). Gradients go to the inputs only; the critic's parameters and buffers are left as they were."""
        from wganlab.objectives import GradientPenalty

        s = self.s
        real = self.heldout_real()[: s.local_batch_size * 4]
        with torch.no_grad(), preserved_buffers(s.generator.network):
            fake = s.generator.network(torch.randn(len(real), s.z_dim, generator=rng, device=s.device))
        with preserved_buffers(s.critic.network):
            norms = GradientPenalty(1.0).gradient_norms(s.critic.network, real, fake, rng)
        return float(norms.detach().mean())

    def clip_share(self) -> float:
        """Share of the critic's parameters sitting exactly at +-c (seed 002 Fig. 3: clipping piles them there)."""
        c = self.s.config.objective.clip_value
        params = torch.cat([p.detach().flatten() for p in self.s.critic.network.parameters()])
        bound = torch.tensor(c, dtype=params.dtype, device=params.device)  # the clip clamps to c's float32 value
        return float((params.abs() == bound).float().mean())

    def draw_offset(self) -> int:
        """Where this evaluation's random streams start: the step (new samples every time), or 0 for every
        evaluation under log.eval_same_draws (step 0's samples every time)."""
        return 0 if self.s.config.log.eval_same_draws else self.s.step

    def heldout_real(self) -> Tensor | None:
        """Real samples the critic never trained on: a dataset's test split, or fresh toy samples (None for
        image folders, which have no held-out split)."""
        s = self.s
        if self._heldout is None:
            n = s.config.log.eval_samples
            if s.config.data.is_toy:
                offset = self.draw_offset()
                return s.data.reference(n, make_rng(s.config.train.seed, "heldout", s.device, offset=offset))
            if not isinstance(self.quality, ImageQuality) or self.quality.data.split != "test":
                return None
            from wganlab.data.images import ImageBatches

            images = ImageBatches(self.quality.real_images(), device=s.device, rng=torch.Generator().manual_seed(0))
            self._heldout = images.reference(min(n, len(images)), torch.Generator().manual_seed(0))
        return self._heldout

    @torch.no_grad()
    def heldout_estimate(self, n: int, rng: torch.Generator) -> float | None:
        """The loss's estimate (W, JS or score gap) with the critic and generator exactly as in a critic step
        (train mode, real and fake scored in separate batches), on held-out real data against fresh fakes, as
        the WGAN-GP authors' code logs its dev-set critic cost. Batch-norm statistics, spectral-norm vectors and
        every other buffer are put back afterwards, so measuring changes nothing."""
        s = self.s
        real = self.heldout_real()
        if real is None:
            return None
        real_scores, fake_scores = [], []
        with preserved_buffers(s.generator.network, s.critic.network), s.autocast():
            for start in range(0, len(real), s.local_batch_size):
                batch = real[start : start + s.local_batch_size]
                z = torch.randn(len(batch), s.z_dim, generator=rng, device=s.device)
                real_scores.append(s.critic.network(batch).float())
                fake_scores.append(s.critic.network(s.generator.network(z)).float())
        return float(s.loss.estimate(torch.cat(real_scores), torch.cat(fake_scores)))


@contextlib.contextmanager
def preserved_buffers(*networks: torch.nn.Module):
    """Restore every buffer (running statistics, spectral-norm vectors) of `networks` after the block."""
    saved = [{name: buffer.clone() for name, buffer in network.named_buffers()} for network in networks]
    try:
        yield
    finally:
        for network, buffers in zip(networks, saved, strict=True):
            for name, buffer in network.named_buffers():
                buffer.copy_(buffers[name])


def listing(values: dict[str, float]) -> str:
    """key=value, key=value: the values that make a divergence, as its message names them."""
    return ", ".join(f"{k}={v}" for k, v in values.items())
