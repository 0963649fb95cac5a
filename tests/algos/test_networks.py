"""The agent network: the fused GRU sequence equals nn.GRUCell stepping, in values and gradients."""

import numpy as np
import pytest
import torch

from qmixbench.algos.exploration import EpsilonSchedule, select_actions
from qmixbench.algos.networks import AgentNetwork, build_inputs, unroll_pair

torch.set_num_threads(1)


@pytest.mark.parametrize("kind", ["gru", "mlp"])
def test_unroll_matches_step_values_and_gradients(kind):
    torch.manual_seed(0)
    net = AgentNetwork(6, 4, hidden_dim=8, kind=kind).double()
    x = torch.randn(5, 3, 6, dtype=torch.double)  # (T, M, I)
    q_seq = net.unroll(x)
    h, steps = net.init_hidden(3), []
    for t in range(5):
        q, h = net.step(x[t], h)
        steps.append(q)
    q_step = torch.stack(steps)
    torch.testing.assert_close(q_seq, q_step)
    w = torch.randn_like(q_seq)
    g_seq = torch.autograd.grad((q_seq * w).sum(), list(net.parameters()))
    g_step = torch.autograd.grad((q_step * w).sum(), list(net.parameters()))
    for a, b in zip(g_seq, g_step):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", ["gru", "mlp"])
def test_online_and_target_in_one_pass_equal_separate_passes(kind):
    torch.manual_seed(1)
    online = AgentNetwork(6, 4, hidden_dim=8, kind=kind).double()
    target = AgentNetwork(6, 4, hidden_dim=8, kind=kind).double().requires_grad_(False)
    x = torch.randn(5, 3, 6, dtype=torch.double)
    q, q_target = unroll_pair(online, target, x)
    torch.testing.assert_close(q, online.unroll(x))
    torch.testing.assert_close(q_target, target.unroll(x))
    assert not q_target.requires_grad
    w = torch.randn_like(q)
    g_pair = torch.autograd.grad((q * w).sum(), list(online.parameters()))
    g_alone = torch.autograd.grad((online.unroll(x) * w).sum(), list(online.parameters()))
    for a, b in zip(g_pair, g_alone):
        torch.testing.assert_close(a, b)


def test_build_inputs_appends_id_and_last_action():
    obs = torch.zeros(2, 3, 1)  # (B, N, O)
    last = torch.tensor([[-1, 0, 2], [1, 1, 1]])
    x = build_inputs(obs, last, n_actions=3, obs_agent_id=True)
    assert x.shape == (2, 3, 1 + 3 + 3)
    assert torch.equal(x[0, :, 1:4], torch.eye(3))
    assert x[0, 0, 4:].sum() == 0  # no previous action at the first step
    assert torch.equal(x[0, 2, 4:], torch.tensor([0.0, 0.0, 1.0]))


def test_epsilon_greedy_never_picks_unavailable_actions():
    gen = torch.Generator().manual_seed(0)
    q = np.tile(np.array([[5.0, 1.0, 0.0]], np.float32), (500, 1))
    avail = np.tile(np.array([[False, True, True]]), (500, 1))
    for eps in (0.0, 0.5, 1.0):
        a = select_actions(q, avail, eps, gen)
        assert (a != 0).all()
    assert set(select_actions(q, avail, 1.0, gen).tolist()) == {1, 2}


def test_epsilon_greedy_in_numpy_picks_what_the_torch_formulation_picks():
    """Same generator draws, same first-maximum argmax (ties included): the same actions."""
    q = torch.randint(0, 3, (2000, 5), generator=torch.Generator().manual_seed(1)).float()  # many ties
    avail = torch.rand(2000, 5, generator=torch.Generator().manual_seed(2)) < 0.6
    avail[:, 0] = True
    for eps in (0.0, 0.3, 1.0):
        mine = select_actions(q.numpy(), avail.numpy(), eps, torch.Generator().manual_seed(3))
        gen = torch.Generator().manual_seed(3)
        greedy = q.masked_fill(~avail, float("-inf")).argmax(-1)
        if eps > 0.0:
            random = torch.rand(q.shape, generator=gen).masked_fill(~avail, -1.0).argmax(-1)
            greedy = torch.where(torch.rand(q.shape[0], generator=gen) < eps, random, greedy)
        assert np.array_equal(mine, greedy.numpy())
    sched = EpsilonSchedule(1.0, 0.05, 100)
    assert sched.value(0) == 1.0 and sched.value(50) == pytest.approx(0.525) and sched.value(10**6) == 0.05


def test_wide_linear_gradients_equal_autograd_of_linear():
    from qmixbench.algos.networks import _WideLinear, wide_linear

    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 7).double()
    x = torch.randn(5, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_WideLinear.apply, (x, layer.weight, layer.bias))
    w = torch.randn(5, 7, dtype=torch.double)
    mine = torch.autograd.grad((wide_linear(x, layer) * w).sum(), [x, layer.weight, layer.bias])
    theirs = torch.autograd.grad((layer(x) * w).sum(), [x, layer.weight, layer.bias])
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b)
    # Without an input gradient (the learner's case: observations, states) only the weights get one.
    (d_w,) = torch.autograd.grad((wide_linear(x.detach(), layer) * w).sum(), [layer.weight])
    torch.testing.assert_close(d_w, theirs[1])
