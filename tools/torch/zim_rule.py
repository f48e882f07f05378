"""Float replica of the ZIM discrete updates (docs/design.md, Update rules).

The weights are float tensors holding integers; a step subtracts an integer
vector U = X * sign(g), where X are multinomial counts over all d parameters
(weights, biases, BatchNorm gamma/beta) taken as one vector.

Sampling is exact, not approximated: the authors' p_i = (|g_i| + c)/(S + d c),
S = ||g||_1, is a mixture, so the number of trials that follow |g| is
M ~ Binomial(n, S/(S + d c)); those M trials are drawn proportionally to |g|
and the other n - M uniformly over the d entries. The zero-inflated rule
(Def. 6, q_i = alpha |g_i| / n) is the same with M ~ Binomial(n, alpha S / n)
and no uniform part; when alpha S > n its zero category is empty and all n
trials follow |g| (counted as a fallback).
"""
from dataclasses import dataclass

import torch


@dataclass
class StepStats:
    nonzero_grad: int = 0  # entries of g that are not exactly zero
    g_l1: float = 0.0      # ||g||_1
    u_l1: int = 0          # ||U||_1
    changed: int = 0       # weights whose value changed (after saturation)
    saturated: int = 0     # weights clipped to +-saturate in this step
    max_abs_w: int = 0     # max |w| after the step
    fallback: int = 0      # 1 when a zero-inflated step had no zero category


def _binomial(n, p, gen):
    if p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    draw = torch.binomial(torch.tensor([float(n)], dtype=torch.float64),
                          torch.tensor([p], dtype=torch.float64), generator=gen)
    return int(draw.item())


def _counts(abs_g, proportional, uniform, gen):
    """Counts X (int64, length d) of `proportional` trials drawn with
    probability |g_i| / ||g||_1 plus `uniform` trials drawn uniformly;
    abs_g is float32 |g|."""
    d = abs_g.numel()
    counts = None
    if uniform > 0:
        # int32 indices hold the same values as int64 ones (torch draws one
        # 32-bit word per index while d < 2^32) in half the bytes
        index_type = torch.int32 if d < 2**31 else torch.int64
        counts = torch.bincount(torch.randint(0, d, (uniform,), generator=gen, dtype=index_type),
                                minlength=d)
    if proportional > 0:
        picks = torch.bincount(torch.multinomial(abs_g, proportional, replacement=True,
                                                 generator=gen), minlength=d)
        counts = picks if counts is None else counts.add_(picks)
    return torch.zeros(d, dtype=torch.int64) if counts is None else counts


def _l1(abs_g):
    """||g||_1 summed in float64, as the rules' probabilities use it."""
    return abs_g.to(torch.float64).sum().item()


def _authors(abs_g, s, n, c, gen):
    proportional = _binomial(n, s / (s + abs_g.numel() * c), gen)
    return _counts(abs_g, proportional, n - proportional, gen), 0


def _zero_inflated(abs_g, s, n, alpha, gen):
    mass = alpha * s / n
    return _counts(abs_g, _binomial(n, mass, gen), 0, gen), int(mass > 1.0)


def authors_counts(g, n, c, gen):
    """X ~ Multinomial(n, p), p_i = (|g_i| + c) / (||g||_1 + d c); g is flat."""
    abs_g = g.abs()
    return _authors(abs_g, _l1(abs_g), n, c, gen)


def zero_inflated_counts(g, n, alpha, gen):
    """X ~ ZIMultinomial(n, q), q_i = alpha |g_i| / n; returns (X, fallback)."""
    abs_g = g.abs()
    return _zero_inflated(abs_g, _l1(abs_g), n, alpha, gen)


def apply_update(params, counts, g, saturate, stats):
    """w <- clip(w - X * sign(g), +-saturate) for the flat counts/g over params,
    one parameter tensor at a time (no d-sized temporaries)."""
    offset = 0
    with torch.no_grad():
        for p in params:
            k = p.numel()
            delta = torch.sign(g[offset:offset + k]).view_as(p).mul_(counts[offset:offset + k].view_as(p))
            # integers: a float64 sum is exact
            stats.u_l1 += int(torch.linalg.vector_norm(delta, 1, dtype=torch.float64).item())
            moved = p - delta
            low, high = torch.aminmax(moved)
            max_abs = max(-int(low.item()), int(high.item()))
            if saturate and max_abs > saturate:
                stats.saturated += int((moved.abs() > saturate).sum().item())
                moved.clamp_(-saturate, saturate)
                max_abs = saturate
            stats.changed += int((moved != p).sum().item())
            p.copy_(moved)
            stats.max_abs_w = max(stats.max_abs_w, max_abs)
            offset += k


def step(params, rule, n, c, alpha, saturate, gen):
    """One ZIM step on params (their .grad set); n = None means n = d."""
    g = torch.cat([p.grad.reshape(-1) for p in params])
    n = g.numel() if n is None else n
    abs_g = g.abs()
    stats = StepStats(nonzero_grad=int(g.count_nonzero().item()), g_l1=_l1(abs_g))
    if rule == "authors":
        counts, stats.fallback = _authors(abs_g, stats.g_l1, n, c, gen)
    else:
        counts, stats.fallback = _zero_inflated(abs_g, stats.g_l1, n, alpha, gen)
    apply_update(params, counts, g, saturate, stats)
    return stats


def integer_start(model, init, c, saturate, gen):
    """Replaces the default float initialisation by integers (docs/design.md, Update rules).

    Every parameter tensor that is not a bias (conv/linear weights, BatchNorm
    gamma) is passed once through the authors' rule with its default float
    values w0 in place of g: w = X * sign(w0), X ~ Multinomial(n, (|w0| + c) /
    (||w0||_1 + numel c)), n = round(numel^(1/ndim)) for init "authors"
    (sparse) and n = numel for "dense". Biases and BatchNorm beta become 0.
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
                continue
            w0 = p.detach().reshape(-1)
            n = p.numel() if init == "dense" else round(p.numel() ** (1.0 / p.dim()))
            counts, _ = authors_counts(w0, n, c, gen)
            p.copy_((counts.to(p.dtype) * torch.sign(w0)).view_as(p))
            if saturate:
                p.clamp_(-saturate, saturate)
