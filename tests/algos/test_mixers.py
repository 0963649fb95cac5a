"""Mixers: QMIX is monotone in every agent's Q (by autograd), VDN is the sum."""

import torch

from qmixbench.algos.mixers.qmix import QMixer
from qmixbench.algos.mixers.vdn import VDNMixer

torch.set_num_threads(1)


def test_qmix_monotone_by_autograd():
    for seed in range(5):
        torch.manual_seed(seed)
        n, s = 1 + seed, 7
        for layers in (1, 2):
            mixer = QMixer(n, s, embed_dim=8, hypernet_layers=layers, hypernet_embed=16)
            q = (torch.randn(64, 5, n) * 10).requires_grad_()
            state = torch.randn(64, 5, s) * 3
            q_tot = mixer(q, state)
            assert q_tot.shape == (64, 5)
            (grad,) = torch.autograd.grad(q_tot.sum(), q)
            assert (grad >= 0).all(), f"dQ_tot/dQ_i < 0 found (seed {seed}, layers {layers})"


def test_qmix_state_dependent_bias():
    torch.manual_seed(0)
    mixer = QMixer(2, 3)
    q = torch.zeros(4, 2)
    out = mixer(q, torch.randn(4, 3))
    assert out.std() > 0  # with Q = 0, Q_tot = V(s) + w2ᵀELU(b1(s)) still varies with s


def test_vdn_is_the_sum():
    q = torch.randn(3, 4, 5)
    assert torch.equal(VDNMixer()(q, torch.randn(3, 4, 2)), q.sum(-1))
