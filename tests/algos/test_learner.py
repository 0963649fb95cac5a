"""The TD target of a tiny hand-made batch equals the value computed by hand.

Two episodes, two agents, two actions, γ = 0.5, a VDN mixer (so Q_tot is a sum one can add by hand):

* episode 0 lasts 2 steps and terminates: its last step's target is the reward alone;
* episode 1 lasts 1 step and is truncated (terminated = 0): it bootstraps; its step 1 is padding;
* double Q: the next action is the online network's argmax among available actions (agent 0's action 1
  is unavailable at episode 0, step 1), evaluated by the target network.
"""

import torch

from qmixbench.algos import resolve_config
from qmixbench.algos.learner import QLearner
from qmixbench.algos.mixers.independent import IndependentMixer
from qmixbench.algos.mixers.qmix import QMixer
from qmixbench.algos.mixers.vdn import VDNMixer
from qmixbench.algos.networks import AgentNetwork
from qmixbench.buffer import EpisodeBatch
from qmixbench.config import apply_overrides

torch.set_num_threads(1)
GAMMA = 0.5


def _batch() -> EpisodeBatch:
    b, t, n, a = 2, 2, 2, 2
    avail = torch.ones(b, t + 1, n, a, dtype=torch.bool)
    avail[0, 1, 0, 1] = False
    alive = torch.ones(b, t + 1, n, dtype=torch.bool)
    alive[0, 2] = False  # terminated: nobody to bootstrap from
    alive[1, 2] = False  # padding
    return EpisodeBatch(
        obs=torch.zeros(b, t + 1, n, 3),
        state=torch.zeros(b, t + 1, 4),
        avail=avail,
        alive=alive,
        actions=torch.zeros(b, t, n, dtype=torch.long),
        reward=torch.tensor([[1.0, 2.0], [3.0, 0.0]]),
        terminated=torch.tensor([[0.0, 1.0], [0.0, 0.0]]),
        filled=torch.tensor([[1.0, 1.0], [1.0, 0.0]]),
    )


def _q_tables() -> tuple[torch.Tensor, torch.Tensor]:
    q = torch.zeros(2, 3, 2, 2)  # online (B, T+1, N, A)
    q_target = torch.zeros(2, 3, 2, 2)
    q[0, 1] = torch.tensor([[1.0, 5.0], [0.0, 2.0]])  # agent 0's best (a=1) is unavailable -> a=0; agent 1 -> a=1
    q_target[0, 1] = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    q[1, 1] = torch.tensor([[3.0, 1.0], [1.0, 4.0]])  # online picks a=0 and a=1
    q_target[1, 1] = torch.tensor([[7.0, 100.0], [100.0, 9.0]])  # which the target values at 7 and 9
    q_target[0, 2] = 1000.0  # after the termination: must not leak in
    return q, q_target


def _learner(mixer, double_q=True, td_lambda=0.0) -> QLearner:
    agent = AgentNetwork(3 + 2, 2, hidden_dim=4)
    algo = "iql" if mixer is None else "vdn"
    config = resolve_config(algo, {"gamma": GAMMA, "double_q": double_q, "td_lambda": td_lambda})
    return QLearner(agent, mixer if mixer is not None else IndependentMixer(), config, n_actions=2)


def test_td_target_by_hand_vdn_double_q():
    q, q_target = _q_tables()
    targets, mask = _learner(VDNMixer()).td_targets(_batch(), q, q_target)
    expected = torch.tensor(
        [
            [1.0 + GAMMA * (10.0 + 40.0), 2.0],  # bootstrap at t=0; termination at t=1
            [3.0 + GAMMA * (7.0 + 9.0), 0.0],  # truncation bootstraps; t=1 is padding
        ]
    )
    torch.testing.assert_close(targets * mask, expected)
    assert mask.tolist() == [[1.0, 1.0], [1.0, 0.0]]


def test_td_target_by_hand_without_double_q():
    q, q_target = _q_tables()
    targets, _ = _learner(VDNMixer(), double_q=False).td_targets(_batch(), q, q_target)
    # The target network's own argmax among available actions: 10 (20 is unavailable) + 40; 100 + 100.
    assert targets[0, 0] == 1.0 + GAMMA * 50.0
    assert targets[1, 0] == 3.0 + GAMMA * 200.0


def test_td_target_by_hand_iql_per_agent():
    q, q_target = _q_tables()
    batch = _batch()
    batch.alive[1, 0, 1] = False  # agent 1 of episode 1 is dead at t=0: no loss term for it
    targets, mask = _learner(None).td_targets(batch, q, q_target)
    assert targets.shape == (2, 2, 2)
    torch.testing.assert_close(targets[0, 0], torch.tensor([1.0 + GAMMA * 10.0, 1.0 + GAMMA * 40.0]))
    torch.testing.assert_close(targets[1, 0, 0], torch.tensor(3.0 + GAMMA * 7.0))
    assert mask.tolist() == [[[1, 1], [1, 1]], [[1, 0], [0, 0]]]


def test_td_lambda_targets_by_hand():
    q, q_target = _q_tables()
    lam = 0.5
    targets, mask = _learner(VDNMixer(), td_lambda=lam).td_targets(_batch(), q, q_target)
    # Episode 0: G_1 = 2 (terminal); G_0 = 1 + γ[(1-λ) V_1 + λ G_1] with V_1 = 10 + 40.
    g1 = 2.0
    g0 = 1.0 + GAMMA * ((1 - lam) * 50.0 + lam * g1)
    # Episode 1 (one step, truncated): G_0 = 3 + γ V_1, V_1 = 7 + 9.
    torch.testing.assert_close((targets * mask)[:, 0], torch.tensor([g0, 3.0 + GAMMA * 16.0]))
    assert targets[0, 1] == g1


def test_td_lambda_targets_by_hand_iql_per_agent():
    q, q_target = _q_tables()
    lam = 0.5
    targets, mask = _learner(None, td_lambda=lam).td_targets(_batch(), q, q_target)
    assert targets.shape == (2, 2, 2), "one λ-return per agent, each from the team reward"
    # Episode 0, agent i: G_1 = 2 (terminal); G_0 = 1 + γ[(1-λ) V_1^i + λ G_1], V_1 = (10, 40).
    g0 = [1.0 + GAMMA * ((1 - lam) * v + lam * 2.0) for v in (10.0, 40.0)]
    torch.testing.assert_close(targets[0, 0], torch.tensor(g0))
    torch.testing.assert_close(targets[0, 1], torch.tensor([2.0, 2.0]))
    # Episode 1 (one step, truncated): G_0 = 3 + γ V_1^i, V_1 = (7, 9).
    torch.testing.assert_close(targets[1, 0], torch.tensor([3.0 + GAMMA * 7.0, 3.0 + GAMMA * 9.0]))


def test_td_lambda_iql_return_stops_at_the_agents_exit():
    """An agent that left stops its own λ-return: no team reward earned after its exit enters it.

    Episode 0: agent 1 acts at t=0 and leaves (alive[0, 1, 1] = 0); agent 0 goes on and the episode
    terminates after t=1. Agent 1's target at t=0 is its reward alone (its exit is terminal for it),
    in the λ-return as in the one-step target; agent 0's follows the whole episode.
    """
    q, q_target = _q_tables()
    lam = 0.5
    batch = _batch()
    batch.alive[0, 1, 1] = False
    one_step, _ = _learner(None).td_targets(batch, q, q_target)
    targets, mask = _learner(None, td_lambda=lam).td_targets(batch, q, q_target)
    assert one_step[0, 0, 1] == 1.0
    assert targets[0, 0, 1] == 1.0, "the team reward of t=1 was earned after agent 1 left"
    torch.testing.assert_close(targets[0, 0, 0], torch.tensor(1.0 + GAMMA * ((1 - lam) * 10.0 + lam * 2.0)))
    assert mask[0, 1].tolist() == [1.0, 0.0]


def test_loss_ignores_padding_and_dead_agents():
    torch.manual_seed(0)
    learner = _learner(VDNMixer())
    batch = _batch()
    base = learner.loss(batch).item()
    batch.reward[1, 1] = 1e6  # a padded step's reward must not matter
    assert learner.loss(batch).item() == base


def _random_batch(b=4, t=5, n=3, o=6, s=10, a=4, seed=0) -> EpisodeBatch:
    g = torch.Generator().manual_seed(seed)
    filled = torch.ones(b, t)
    filled[0, 3:] = 0.0  # one shorter episode: padding must stay out of the loss
    alive = torch.ones(b, t + 1, n, dtype=torch.bool)
    alive[0, 3:] = False
    terminated = torch.zeros(b, t)
    terminated[0, 2] = 1.0
    return EpisodeBatch(
        obs=torch.randn(b, t + 1, n, o, generator=g),
        state=torch.randn(b, t + 1, s, generator=g),
        avail=torch.ones(b, t + 1, n, a, dtype=torch.bool),
        alive=alive,
        actions=torch.randint(0, a, (b, t, n), generator=g),
        reward=torch.randn(b, t, generator=g) * filled,
        terminated=terminated,
        filled=filled,
    )


def test_flat_parameters_update_equals_per_parameter_adam_and_clipping():
    """The learner's one-buffer Adam and clipping give the same parameters as torch's per-parameter path."""
    import copy

    torch.manual_seed(0)
    agent, mixer = AgentNetwork(6 + 3, 4, hidden_dim=8, kind="mlp"), QMixer(3, 10, embed_dim=4, hypernet_embed=8)
    ref_agent, ref_mixer = copy.deepcopy(agent), copy.deepcopy(mixer)
    clip, lr = 0.05, 1e-2  # a clip this small is active on every update (checked below)
    config = apply_overrides(resolve_config("qmix"), {"lr": lr, "grad_clip": clip, "target_update_interval": 2})
    learner = QLearner(agent, mixer, config, n_actions=4)
    ref = QLearner(ref_agent, ref_mixer, config, n_actions=4)
    ref_params = [*ref_agent.parameters(), *ref_mixer.parameters()]
    for p in ref_params:
        p.grad = None  # plain per-parameter gradients, as torch's own path has them
    ref_adam = torch.optim.Adam(ref_params, lr=lr)
    for step in range(5):  # hard target copies after updates 2 and 4
        batch = _random_batch(seed=step)
        learner.update(batch)
        ref_adam.zero_grad(set_to_none=True)
        ref.loss(batch).backward()
        assert torch.nn.utils.clip_grad_norm_(ref_params, clip) > clip
        ref_adam.step()
        if (step + 1) % 2 == 0:
            ref.target_agent.load_state_dict(ref_agent.state_dict())
            ref.target_mixer.load_state_dict(ref_mixer.state_dict())
        for mine, theirs in zip([*agent.parameters(), *mixer.parameters()], ref_params, strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
        for mine, theirs in zip(learner.target_agent.parameters(), ref.target_agent.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
    # After update 5 the targets hold update 4's parameters: copies, not views of the online ones.
    assert not torch.equal(learner.flat_target, learner.flat_params.detach())
    assert learner.flat_target.data_ptr() != learner.flat_params.data_ptr()


def test_flat_parameters_are_views_that_keep_their_values():
    from qmixbench.algos.learner import flatten_parameters

    net = AgentNetwork(5, 3, hidden_dim=4, kind="mlp")
    before = [p.detach().clone() for p in net.parameters()]
    flat = flatten_parameters(list(net.parameters()), with_grad=True)
    assert flat.numel() == sum(p.numel() for p in before)
    for p, old in zip(net.parameters(), before, strict=True):
        assert torch.equal(p, old)
    with torch.no_grad():
        flat.add_(1.0)  # an optimizer's in-place step on the buffer reaches the module
    assert torch.equal(net.fc1.weight, before[0] + 1.0)
    # Backward accumulates every parameter's gradient into the buffer's .grad, in order.
    x = torch.randn(2, 5)
    expected = torch.autograd.grad(net.step(x, net.init_hidden(2))[0].sum(), list(net.parameters()))
    assert flat.grad is not None
    net.step(x, net.init_hidden(2))[0].sum().backward()
    torch.testing.assert_close(flat.grad, torch.cat([g.reshape(-1) for g in expected]))
