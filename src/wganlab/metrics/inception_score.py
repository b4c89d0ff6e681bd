"""Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) ‖ p(y)), over splits, from class logits."""

import torch
from torch import Tensor

from wganlab.errors import MetricError


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and (population) std over `splits` equal parts of the samples, as the original code reports."""
    if len(logits) < splits:
        raise MetricError(f"the Inception Score needs at least splits={splits} samples, got {len(logits)}")
    log_probs = torch.log_softmax(logits.double(), dim=1)
    scores = []
    for part in log_probs.tensor_split(splits):
        log_marginal = torch.logsumexp(part, dim=0) - torch.log(torch.tensor(len(part), dtype=torch.float64))
        # p log(p / p_y) with 0 log 0 = 0, so saturated softmaxes (log p = -inf) give no NaN.
        terms = torch.where(part > -torch.inf, part.exp() * (part - log_marginal), 0.0)
        kl = terms.sum(dim=1).mean()
        scores.append(kl.exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(correction=0))
