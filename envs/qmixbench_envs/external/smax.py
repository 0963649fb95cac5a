"""SMAX (JaxMARL's StarCraft micromanagement, in JAX) as a PettingZoo ParallelEnv. Needs ``pip install 'qmixbench[smax]'``.

SMAX re-implements the unit micromanagement of SMAC (the StarCraft Multi-Agent Challenge) without the
StarCraft II binary: two teams of units (marines, stalkers, zealots, ...) fight on a 32x32 open map.
qmixbench controls the first team ("allies"); the second is driven by JaxMARL's heuristic enemy
(``HeuristicEnemySMAX``: each enemy attacks the closest visible ally, else moves towards the allies).

* Agents: ``ally_0`` ... ``ally_{N-1}``, the controlled team only. An ally that dies stays in
  ``agents`` until the episode ends (SMAC's convention, as in PyMARL/EPyMARL): its observation is all
  zeros and its only available action is "stop".
* Actions: ``Discrete(5 + n_enemies)``: 0-3 move (north, east, south, west), 4 stop, ``5 + j`` attack
  enemy j. ``infos[agent]["action_mask"]`` (int8, 1 = available) marks the moves of a live unit, stop
  (always) and attacks on live enemies within attack range. An unavailable action is accepted and has
  no effect (SMAX's rule: an out-of-range or dead target is not hit, a dead unit does not move), so
  random play over the whole action space is legal.
* Observation: JaxMARL's ``unit_list`` vector, float32 in [-1, 1], ``(7 + n_types) * (n_units - 1) + 4 +
  n_types``: for every other unit (allies first, then enemies) its health fraction, position relative
  to the observer over the observer's sight range, last move, last attack target and weapon cooldown
  fraction and unit-type one-hot, all zero when out of sight or dead; then the observer's own health,
  position / map size, cooldown fraction and type one-hot.
* State: JaxMARL's ``get_world_state`` layout, float32 ``(n_units * (4 + n_types) + 2 * n_units,)``:
  per unit (allies then enemies; zeros when dead) health fraction, x, y, weapon cooldown, type
  one-hot; then every unit's team (0/1) and type. **Scaled to [0, 1]** here (positions over the map
  size, cooldown over the unit type's cooldown and clipped to [0, 1] as in the observations, type over
  the largest type index): JaxMARL's raw world state has positions up to 32 and cooldowns that run down
  to -50 over an episode, and QMIX's hypernetworks read the state as it is.
* Reward: SMAX's, the same for every ally (``team_reward: "shared"``): each step, the enemies' health
  lost that step as a fraction of their full health, summed over enemies and divided by the number of
  enemies, plus ``won_battle_bonus`` (1) on the step the last enemy dies while an ally lives. A won
  episode therefore returns exactly 1 + 1 = 2; a lost one the share of enemy health removed. (SMAC's
  reward has the same shape but is scaled to a maximum of 20.)
* Terminated when either team has no unit left (both at once is a draw, not a win); **truncated** at
  ``max_steps`` (100, JaxMARL's default for every map; SMAC's per-map limits are 60-150) if the battle
  is still on. A battle that ends on the last allowed step is terminated. ``infos[agent]["success"]``
  on the last step: the allies won (every enemy dead, an ally alive).
* Seeding: ``reset(seed=s)`` sets the env's JAX key to ``PRNGKey(s)`` (0 <= s < 2**64); each reset and
  step splits it (start positions jitter, the SMACv2 maps' unit types and positions, weapon cooldown
  noise, the heuristic's choices). ``reset()`` without a seed continues the key stream; the first one
  without any seed draws the key from fresh OS entropy.
* Stepping: reset and step are single ``jax.jit`` functions over arrays (compiled once per map and
  arguments, per process, on first use: a few seconds); :class:`SMAXVectorEnv` steps K envs of one
  map in one ``jax.jit(jax.vmap(step))`` call with numpy arrays in and out.

Arguments of :func:`smax` (SMAX's and the heuristic's, with their defaults): ``map_name``,
``max_steps=100``, ``enemy_shoots=True``, ``attack_mode="closest"`` (or ``"random"``),
``see_enemy_actions=True``, ``walls_cause_death=True``, ``won_battle_bonus=1.0``.

Registered ids (SMAC map names, ``_`` written ``-``): ``smax/3m-v0`` (3 marines a side), ``smax/8m-v0``,
``smax/2s3z-v0`` (2 stalkers, 3 zealots a side), ``smax/3s5z-v0``, ``smax/5m-vs-6m-v0`` (5 marines
against 6), ``smax/3s-vs-5z-v0``, ``smax/smacv2-5-units-v0`` (SMACv2-style: 5 against 5, unit types
drawn uniformly each episode, enemies placed around or opposite the allies at random).

Version history: v0, jaxmarl 0.2.0's SMAX with the heuristic enemy.
"""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from qmixbench_envs.external import import_optional

MAPS: tuple[str, ...] = (
    "3m",
    "8m",
    "25m",
    "2s3z",
    "3s5z",
    "5m_vs_6m",
    "10m_vs_11m",
    "27m_vs_30m",
    "3s5z_vs_3s6z",
    "3s_vs_5z",
    "6h_vs_8z",
    "smacv2_5_units",
    "smacv2_10_units",
    "smacv2_20_units",
)
"""jaxmarl 0.2.0's SMAX scenarios (``MAP_NAME_TO_SCENARIO``); checked here so a typo fails before JAX loads."""
ATTACK_MODES = ("closest", "random")
"""The heuristic enemy's target choice (jaxmarl's ``create_heuristic_policy``)."""


class SMAXFrame(NamedTuple):
    """What the controlled team sees after a reset or step, as arrays (a leading K axis when batched)."""

    obs: np.ndarray
    """(N, O) float32 observations in ``agents`` order."""
    state: np.ndarray
    """(S,) float32 global state in [0, 1]."""
    avail: np.ndarray
    """(N, A) int8 available-action mask."""


class SMAXStep(NamedTuple):
    """One step's outcome (a leading K axis when batched)."""

    frame: SMAXFrame
    """Observations, state and masks after the step."""
    reward: np.ndarray
    """() float32 team reward (every ally's reward)."""
    terminated: np.ndarray
    """() bool: a team has no unit left."""
    truncated: np.ndarray
    """() bool: ``max_steps`` reached with the battle still on."""
    success: np.ndarray
    """() bool: every enemy dead and an ally alive."""


@dataclass(frozen=True)
class _Core:
    """One map's JaxMARL env and its compiled functions (shared by every env of that map and arguments)."""

    upstream: Any
    """jaxmarl's ``HeuristicEnemySMAX``."""
    reset: Callable
    """key -> (key, env_state, frame arrays)."""
    step: Callable
    """(key, env_state, actions (N,)) -> (key, env_state, step arrays)."""
    reset_batch: Callable
    """``reset`` vmapped over a leading K axis."""
    step_batch: Callable
    """``step`` vmapped over a leading K axis."""
    fetch: Callable
    """``jax.device_get``: a tree of JAX arrays -> numpy arrays, in one transfer."""


def key_from_seed(seed: int) -> np.ndarray:
    """JAX's raw threefry key for ``seed`` (what ``jax.random.PRNGKey(seed)`` gives), as a (2,) uint32 array."""
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    seed = int(seed)
    return np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32)


def _import_smax() -> tuple[Any, Any]:
    jax = import_optional("jax", extra="smax", package="jax")
    # jaxmarl 0.2.0's package import prints two lines about optional submodules, after its mabrax module
    # has set sys.stdout/sys.stderr to sys.__stdout__/sys.__stderr__ (discarding any redirection, pytest's
    # included). So the real streams are swapped for a buffer too, and every stream is put back after.
    names = ("stdout", "stderr", "__stdout__", "__stderr__")
    saved = {name: getattr(sys, name) for name in names}
    sink = io.StringIO()
    try:
        sys.stdout = sink
        sys.__stdout__ = sink  # type: ignore[misc,assignment]  # final in typeshed; jaxmarl writes it
        module = import_optional("jaxmarl.environments.smax", extra="smax", package="jaxmarl")
    finally:
        for name, stream in saved.items():
            setattr(sys, name, stream)
    return jax, module


@functools.cache
def _core(map_name: str, options: tuple[tuple[str, Any], ...]) -> _Core:
    """Build and jit one map's functions once per process: jax.jit caches per function object."""
    jax, module = _import_smax()
    jnp = jax.numpy
    kwargs = dict(options)
    heuristic = {k: kwargs.pop(k) for k in ("enemy_shoots", "attack_mode")}
    upstream = module.HeuristicEnemySMAX(scenario=module.map_name_to_scenario(map_name), **heuristic, **kwargs)
    inner = upstream._env  # the two-team SMAX; the wrapper's num_agents counts allies only
    agents = list(upstream.agents)
    n_allies, n_types = inner.num_allies, len(inner.unit_type_names)
    map_size = jnp.array([inner.map_width, inner.map_height], jnp.float32)

    def scaled_state(s: Any) -> Any:
        # get_world_state's layout and features, each scaled to [0, 1] (see the module docstring).
        types = s.unit_types
        health = s.unit_health / inner.unit_type_health[types]
        pos = jnp.clip(s.unit_positions / map_size, 0.0, 1.0)
        cooldown = jnp.clip(s.unit_weapon_cooldowns / inner.unit_type_weapon_cooldowns[types], 0.0, 1.0)
        one_hot = jax.nn.one_hot(types, n_types)
        units = jnp.concatenate([health[:, None], pos, cooldown[:, None], one_hot], axis=-1)
        units = units * s.unit_alive[:, None]  # dead units are all zeros, as in get_world_state
        tail = [s.unit_teams.astype(jnp.float32), types.astype(jnp.float32) / (n_types - 1)]
        return jnp.concatenate([units.reshape(-1), *tail]).astype(jnp.float32)

    def frame(s: Any) -> tuple[Any, Any, Any]:
        obs = inner.get_obs(s.state)
        avail = inner.get_avail_actions(s.state)
        obs_arr = jnp.stack([obs[a] for a in agents]).astype(jnp.float32)  # (N, O)
        avail_arr = jnp.stack([avail[a] for a in agents]).astype(jnp.int8)  # (N, A)
        return obs_arr, scaled_state(s.state), avail_arr

    def reset(key: Any) -> tuple[Any, Any, Any]:
        key, sub = jax.random.split(key)
        _, s = upstream.reset(sub)
        # The heuristic's initial state holds weakly typed ints that step() returns strongly typed: made
        # strong here, so that step compiles once rather than once for each.
        s = jax.tree.map(lambda x: jax.lax.convert_element_type(x, x.dtype), s)
        return key, s, frame(s)

    def step(key: Any, s: Any, actions: Any) -> tuple[Any, Any, Any]:
        key, sub = jax.random.split(key)
        # step_env, not step: MultiAgentEnv.step would reset on its own when the episode ends.
        _, s, rewards, _, _ = upstream.step_env(sub, s, {a: actions[i] for i, a in enumerate(agents)})
        alive = s.state.unit_alive
        allies_left, enemies_left = jnp.any(alive[:n_allies]), jnp.any(alive[n_allies:])
        battle_over = ~allies_left | ~enemies_left
        # Time limit with the battle still on is a truncation (bootstrap); a battle decided on the
        # last allowed step is a real end.
        truncated = (s.state.step >= inner.max_steps) & ~battle_over
        success = ~enemies_left & allies_left  # SMAX pays its win bonus on exactly this condition
        reward = rewards[agents[0]].astype(jnp.float32)  # SMAX gives every ally the team's reward
        return key, s, (frame(s), reward, battle_over, truncated, success)

    return _Core(
        upstream=upstream,
        reset=jax.jit(reset),
        step=jax.jit(step),
        reset_batch=jax.jit(jax.vmap(reset)),
        step_batch=jax.jit(jax.vmap(step)),
        fetch=jax.device_get,
    )


def _checked_core(map_name: str, options: dict[str, Any]) -> _Core:
    if map_name not in MAPS:
        raise ValueError(f"unknown SMAX map {map_name!r}; known maps: {', '.join(MAPS)}")
    if options["attack_mode"] not in ATTACK_MODES:
        raise ValueError(f"attack_mode must be one of {ATTACK_MODES}, got {options['attack_mode']!r}")
    if int(options["max_steps"]) < 1:
        raise ValueError(f"max_steps must be >= 1, got {options['max_steps']!r}")
    _import_smax()  # MissingExtraError naming the extra, even where this map's core is cached already
    return _core(map_name, tuple(sorted(options.items())))


def _to_step(out: Any) -> SMAXStep:
    (obs, state, avail), reward, terminated, truncated, success = out
    return SMAXStep(SMAXFrame(obs, state, avail), reward, terminated, truncated, success)


def _to_frame(out: Any) -> SMAXFrame:
    obs, state, avail = out
    return SMAXFrame(obs, state, avail)


class SMAXParallelEnv(ParallelEnv):
    """One SMAX battle, the allies as PettingZoo agents; see the module docstring."""

    def __init__(self, map_name: str, core: _Core, render_mode: str | None = None) -> None:
        if render_mode is not None:
            raise ValueError(f"smax: render_mode must be None (no renderer is wrapped), got {render_mode!r}")
        self._core = core
        up = core.upstream
        self.metadata = {
            "name": f"smax-{map_name}",
            "render_modes": [],
            "is_parallelizable": True,
            "team_reward": "shared",
        }
        self.render_mode = None
        self.map_name = map_name
        self.possible_agents = list(up.agents)
        self.agents: list[str] = []
        self.max_steps = int(up._env.max_steps)
        self.n_enemies = int(up.num_enemies)
        obs_dim, n_actions = int(up._env.obs_size), 5 + self.n_enemies
        n_units = int(up._env.num_agents)
        n_types = len(up._env.unit_type_names)
        self._obs_spaces = {a: spaces.Box(-1.0, 1.0, (obs_dim,), np.float32) for a in self.possible_agents}
        self._act_spaces = {a: spaces.Discrete(n_actions) for a in self.possible_agents}
        self.state_space = spaces.Box(0.0, 1.0, (n_units * (6 + n_types),), np.float32)
        self._key: Any = None
        self._env_state: Any = None
        self._state = np.zeros(self.state_space.shape, np.float32)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def _infos(self, avail: np.ndarray) -> dict[str, dict[str, Any]]:
        return {agent: {"action_mask": avail[i]} for i, agent in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if seed is not None:
            self._key = key_from_seed(seed)
        elif self._key is None:
            self._key = key_from_seed(int(np.random.SeedSequence().entropy) % 2**64)  # type: ignore[arg-type]
        self._key, self._env_state, out = self._core.reset(self._key)
        obs, state, avail = _to_frame(self._core.fetch(out))
        self._state = state
        self.agents = list(self.possible_agents)
        return dict(zip(self.agents, obs)), self._infos(avail)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        chosen = np.zeros(len(self.possible_agents), np.int32)
        for i, agent in enumerate(self.possible_agents):
            action = actions[agent]
            if not self._act_spaces[agent].contains(action):
                raise ValueError(f"action {action!r} of {agent} is outside {self._act_spaces[agent]}")
            chosen[i] = int(action)
        self._key, self._env_state, out = self._core.step(self._key, self._env_state, chosen)
        result = _to_step(self._core.fetch(out))
        obs, state, avail = result.frame
        self._state = state
        terminated, truncated = bool(result.terminated), bool(result.truncated)
        agents = self.agents
        infos = self._infos(avail)
        if terminated or truncated:
            for info in infos.values():
                info["success"] = bool(result.success)
            self.agents = []
        reward = float(result.reward)
        return (
            dict(zip(agents, obs)),
            dict.fromkeys(agents, reward),
            dict.fromkeys(agents, terminated),
            dict.fromkeys(agents, truncated),
            infos,
        )

    def state(self) -> np.ndarray:
        return self._state

    def render(self) -> None:
        return None

    def close(self) -> None:
        pass


class SMAXVectorEnv:
    """K SMAX battles of one map stepped together: one ``jax.jit(jax.vmap(step))`` call a step.

    Arrays in and out, agents in ``agents`` order: ``step(actions (K, N))`` returns an :class:`SMAXStep`
    whose fields have a leading K axis. An env whose episode ended (``terminated | truncated``) must be
    reset before the next step: ``reset(seeds, mask=ended)`` resets only the masked envs (one batched
    call) and returns every env's current frame. Env k with seed s follows exactly the trajectory of
    ``SMAXParallelEnv.reset(seed=s)`` under the same actions (tested).
    """

    def __init__(self, map_name: str, core: _Core, num_envs: int) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        jax = import_optional("jax", extra="smax", package="jax")
        self._core = core
        self.map_name = map_name
        self.num_envs = num_envs
        self.agents = list(core.upstream.agents)
        self.max_steps = int(core.upstream._env.max_steps)
        self.n_actions = 5 + int(core.upstream.num_enemies)
        self._keys: Any = None
        self._states: Any = None
        self._ended = np.ones(num_envs, bool)  # every env needs a reset first

        def select(mask: Any, new: Any, old: Any) -> Any:
            def pick(a: Any, b: Any) -> Any:
                return jax.numpy.where(mask.reshape(mask.shape + (1,) * (a.ndim - 1)), a, b)

            return jax.tree.map(pick, new, old)

        def reset_masked(keys: Any, states: Any, mask: Any) -> Any:
            new_keys, new_states, frame = core.reset_batch(keys)
            return select(mask, new_keys, keys), select(mask, new_states, states), frame

        self._reset_masked = jax.jit(reset_masked)

    def reset(self, seeds: Sequence[int] | None = None, mask: np.ndarray | None = None) -> SMAXFrame:
        """Reset the envs where ``mask`` (default: all) with ``seeds[k]``; return all K current frames.

        Args:
            seeds: One seed per env (K of them; entries outside the mask are ignored). None continues each
                env's key stream (fresh OS entropy on the very first reset).
            mask: (K,) bool, the envs to reset; None resets all.
        """
        k = self.num_envs
        mask = np.ones(k, bool) if mask is None else np.asarray(mask, bool)
        if mask.shape != (k,):
            raise ValueError(f"mask must have shape ({k},), got {mask.shape}")
        if seeds is not None and len(seeds) != k:
            raise ValueError(f"seeds must hold one seed per env ({k}), got {len(seeds)}")
        if seeds is not None:
            keys = np.stack([key_from_seed(s) if m else np.zeros(2, np.uint32) for s, m in zip(seeds, mask)])
            if self._keys is not None:
                keys = np.where(mask[:, None], keys, np.asarray(self._keys))
        elif self._keys is None:
            entropy = np.random.SeedSequence().generate_state(2 * k, np.uint32)
            keys = entropy.reshape(k, 2)
        else:
            keys = self._keys
        if self._states is None:  # first reset: every env starts, whatever the mask
            self._keys, self._states, frame = self._core.reset_batch(keys)
            self._ended[:] = False
        else:
            self._keys, self._states, frame = self._reset_masked(keys, self._states, mask)
            self._ended &= ~mask
        return _to_frame(self._core.fetch(frame))

    def step(self, actions: np.ndarray) -> SMAXStep:
        """Step every env with ``actions`` (K, N) ints; see the class docstring."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, len(self.agents)):
            raise ValueError(f"actions must have shape ({self.num_envs}, {len(self.agents)}), got {actions.shape}")
        if self._ended.any():
            ended = np.flatnonzero(self._ended).tolist()
            raise RuntimeError(f"envs {ended} have ended (or never started); reset them first: reset(mask=...)")
        if actions.min() < 0 or actions.max() >= self.n_actions:
            raise ValueError(f"actions must be in [0, {self.n_actions}), got values {actions.min()}..{actions.max()}")
        self._keys, self._states, out = self._core.step_batch(self._keys, self._states, actions.astype(np.int32))
        result = _to_step(self._core.fetch(out))
        self._ended |= result.terminated | result.truncated
        return result


def _options(
    max_steps: int,
    enemy_shoots: bool,
    attack_mode: str,
    see_enemy_actions: bool,
    walls_cause_death: bool,
    won_battle_bonus: float,
) -> dict[str, Any]:
    return {
        "max_steps": int(max_steps),
        "enemy_shoots": bool(enemy_shoots),
        "attack_mode": attack_mode,
        "see_enemy_actions": bool(see_enemy_actions),
        "walls_cause_death": bool(walls_cause_death),
        "won_battle_bonus": float(won_battle_bonus),
    }


def smax(
    map_name: str = "3m",
    max_steps: int = 100,
    enemy_shoots: bool = True,
    attack_mode: str = "closest",
    see_enemy_actions: bool = True,
    walls_cause_death: bool = True,
    won_battle_bonus: float = 1.0,
    render_mode: str | None = None,
) -> SMAXParallelEnv:
    """Build one SMAX battle on a SMAC map name (``"3m"``, ``"5m_vs_6m"``, ...); arguments as in the module docstring."""
    options = _options(max_steps, enemy_shoots, attack_mode, see_enemy_actions, walls_cause_death, won_battle_bonus)
    return SMAXParallelEnv(map_name, _checked_core(map_name, options), render_mode=render_mode)


def smax_vector(
    map_name: str = "3m",
    num_envs: int = 8,
    max_steps: int = 100,
    enemy_shoots: bool = True,
    attack_mode: str = "closest",
    see_enemy_actions: bool = True,
    walls_cause_death: bool = True,
    won_battle_bonus: float = 1.0,
) -> SMAXVectorEnv:
    """Build ``num_envs`` battles of one map, stepped in one vectorised call (:class:`SMAXVectorEnv`)."""
    options = _options(max_steps, enemy_shoots, attack_mode, see_enemy_actions, walls_cause_death, won_battle_bonus)
    return SMAXVectorEnv(map_name, _checked_core(map_name, options), num_envs)
