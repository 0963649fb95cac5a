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
  map in one ``jax.jit(jax.vmap(step))`` call with numpy arrays in and out: every ``smax/*`` id's vector
  env (``qmixbench_envs.vector``), which qmixbench's rollout uses for its K training envs.

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
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from qmixbench_envs.external import import_optional
from qmixbench_envs.vector import VectorFrame, VectorStep

MAPS: dict[str, tuple[int, int]] = {
    "3m": (3, 3),
    "8m": (8, 8),
    "25m": (25, 25),
    "2s3z": (5, 5),
    "3s5z": (8, 8),
    "5m_vs_6m": (5, 6),
    "10m_vs_11m": (10, 11),
    "27m_vs_30m": (27, 30),
    "3s5z_vs_3s6z": (8, 9),
    "3s_vs_5z": (3, 5),
    "6h_vs_8z": (6, 8),
    "smacv2_5_units": (5, 5),
    "smacv2_10_units": (10, 10),
    "smacv2_20_units": (20, 20),
}
"""jaxmarl 0.2.0's SMAX scenarios (``MAP_NAME_TO_SCENARIO``) as (allies, enemies), tested against it: a
typo fails before JAX loads, and :func:`describe` needs no JAX."""
N_UNIT_TYPES = 6
"""SMAX's unit types: marine, marauder, stalker, zealot, zergling, hydralisk."""
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
    """(key, env_state, actions (N,), max_steps) -> (key, env_state, step arrays)."""
    reset_batch: Callable
    """``reset`` vmapped over a leading K axis."""
    reset_where: Callable
    """(keys, env_states, mask (K,)) -> ``reset_batch`` where ``mask``, the inputs kept elsewhere."""
    step_batch: Callable
    """``step`` vmapped over a leading K axis (``max_steps`` shared)."""
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
    # JAX logs at INFO that it found no TPU or GPU: noise under qmixbench's INFO logging on a CPU machine.
    backend_log = logging.getLogger("jax._src.xla_bridge")
    if backend_log.level == logging.NOTSET:
        backend_log.setLevel(logging.WARNING)
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

    def step(key: Any, s: Any, actions: Any, max_steps: Any) -> tuple[Any, Any, Any]:
        key, sub = jax.random.split(key)
        # step_env, not step: MultiAgentEnv.step would reset on its own when the episode ends.
        _, s, rewards, _, _ = upstream.step_env(sub, s, {a: actions[i] for i, a in enumerate(agents)})
        alive = s.state.unit_alive
        allies_left, enemies_left = jnp.any(alive[:n_allies]), jnp.any(alive[n_allies:])
        battle_over = ~allies_left | ~enemies_left
        # Time limit with the battle still on is a truncation (bootstrap); a battle decided on the
        # last allowed step is a real end. The limit is an argument, not SMAX's own max_steps (which
        # only sets its done flag, unused here), so that every limit shares one compiled step.
        truncated = (s.state.step >= max_steps) & ~battle_over
        success = ~enemies_left & allies_left  # SMAX pays its win bonus on exactly this condition
        reward = rewards[agents[0]].astype(jnp.float32)  # SMAX gives every ally the team's reward
        return key, s, (frame(s), reward, battle_over, truncated, success)

    reset_batch = jax.vmap(reset)

    def reset_where(keys: Any, states: Any, mask: Any) -> Any:
        new_keys, new_states, frames = reset_batch(keys)

        def pick(new: Any, old: Any) -> Any:
            return jnp.where(mask.reshape(mask.shape + (1,) * (new.ndim - 1)), new, old)

        # Frames of envs outside the mask come from a throwaway reset: callers read them from their step.
        return jax.tree.map(pick, new_keys, keys), jax.tree.map(pick, new_states, states), frames

    return _Core(
        upstream=upstream,
        reset=jax.jit(reset),
        step=jax.jit(step),
        reset_batch=jax.jit(reset_batch),
        reset_where=jax.jit(reset_where),
        step_batch=jax.jit(jax.vmap(step, in_axes=(0, 0, 0, None))),
        fetch=jax.device_get,
    )


@dataclass(frozen=True)
class SMAXOptions:
    """SMAX's and the heuristic enemy's arguments (jaxmarl's defaults); see the module docstring."""

    max_steps: int = 100
    """Episode limit in env steps: reaching it with the battle still on is a truncation."""
    enemy_shoots: bool = True
    """The heuristic enemies attack (False: they only move)."""
    attack_mode: str = "closest"
    """The heuristic's target: ``closest`` visible ally or a ``random`` one."""
    see_enemy_actions: bool = True
    """Observations show enemies' last move and target."""
    walls_cause_death: bool = True
    """A unit touching the map's edge dies."""
    won_battle_bonus: float = 1.0
    """Reward on the step the allies win."""

    def core(self, map_name: str) -> _Core:
        """The compiled functions for ``map_name`` with these options (built once per process)."""
        if map_name not in MAPS:
            raise ValueError(f"unknown SMAX map {map_name!r}; known maps: {', '.join(MAPS)}")
        if self.attack_mode not in ATTACK_MODES:
            raise ValueError(f"attack_mode must be one of {ATTACK_MODES}, got {self.attack_mode!r}")
        if int(self.max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps!r}")
        _import_smax()  # MissingExtraError naming the extra, even where this map's core is cached already
        upstream = {
            "enemy_shoots": bool(self.enemy_shoots),
            "attack_mode": self.attack_mode,
            "see_enemy_actions": bool(self.see_enemy_actions),
            "walls_cause_death": bool(self.walls_cause_death),
            "won_battle_bonus": float(self.won_battle_bonus),
        }
        return _core(map_name, tuple(sorted(upstream.items())))


def _to_step(out: Any) -> SMAXStep:
    (obs, state, avail), reward, terminated, truncated, success = out
    return SMAXStep(SMAXFrame(obs, state, avail), reward, terminated, truncated, success)


def _to_frame(out: Any) -> SMAXFrame:
    obs, state, avail = out
    return SMAXFrame(obs, state, avail)


class SMAXParallelEnv(ParallelEnv):
    """One SMAX battle, the allies as PettingZoo agents; see the module docstring."""

    def __init__(self, map_name: str, options: SMAXOptions, render_mode: str | None = None) -> None:
        if render_mode is not None:
            raise ValueError(f"smax: render_mode must be None (no renderer is wrapped), got {render_mode!r}")
        self._core = options.core(map_name)
        up = self._core.upstream
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
        self.max_steps = int(options.max_steps)
        self._max_steps = np.int32(self.max_steps)
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
            self._key = np.random.SeedSequence().generate_state(2, np.uint32)
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
        self._key, self._env_state, out = self._core.step(self._key, self._env_state, chosen, self._max_steps)
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

    A :class:`qmixbench_envs.vector.VectorEnv` (the registry's ``vector_entry_point`` of every ``smax/*``
    id): ``step(actions (K, N))`` returns a :class:`~qmixbench_envs.vector.VectorStep` whose arrays have
    a leading K axis, agents in ``possible_agents`` order. An env whose episode ended must be reset before
    the next step: ``reset(seeds, mask=ended)`` resets only the masked envs (one batched call) and returns
    every env's current frame. Env k with seed s follows exactly the trajectory of
    ``SMAXParallelEnv.reset(seed=s)`` under the same actions, and a reset without a seed continues its key
    stream as ``SMAXParallelEnv.reset()`` does (tested).
    """

    def __init__(self, map_name: str, options: SMAXOptions, num_envs: int) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self._core = options.core(map_name)
        up = self._core.upstream
        self.map_name = map_name
        self.num_envs = num_envs
        self.possible_agents = list(up.agents)
        self.max_steps = int(options.max_steps)
        self._max_steps = np.int32(self.max_steps)
        self.n_actions = 5 + int(up.num_enemies)
        self._keys: Any = None
        self._states: Any = None
        self._frame: SMAXFrame | None = None  # every env's latest frame (numpy)
        self._ended = np.ones(num_envs, bool)  # every env needs a reset first

    def _vector_frame(self) -> VectorFrame:
        assert self._frame is not None
        obs, state, avail = self._frame
        # Every ally stays in ``agents`` until its battle ends (dead ones with only "stop" available).
        active = np.repeat(~self._ended[:, None], len(self.possible_agents), axis=1)  # (K, N)
        return VectorFrame(obs, state, avail, active)

    def reset(self, seeds: Sequence[int] | None = None, mask: np.ndarray | None = None) -> VectorFrame:
        """Reset the envs where ``mask`` (default: all) with ``seeds[k]``; return all K current frames.

        Args:
            seeds: One seed per env (K of them; entries outside the mask are ignored). None continues each
                env's key stream (fresh OS entropy on the very first reset).
            mask: (K,) bool, the envs to reset; None resets all. The first reset resets all.
        """
        k = self.num_envs
        mask = np.ones(k, bool) if mask is None or self._states is None else np.asarray(mask, bool)
        if mask.shape != (k,):
            raise ValueError(f"mask must have shape ({k},), got {mask.shape}")
        if seeds is not None and len(seeds) != k:
            raise ValueError(f"seeds must hold one seed per env ({k}), got {len(seeds)}")
        if self._keys is None:
            keys = np.random.SeedSequence().generate_state(2 * k, np.uint32).reshape(k, 2)
        else:
            keys = np.asarray(self._keys)
        if seeds is not None:
            keys = np.stack([key_from_seed(s) if m else key for s, m, key in zip(seeds, mask, keys)])
        if self._states is None:
            self._keys, self._states, out = self._core.reset_batch(keys)
            self._frame = _to_frame(self._core.fetch(out))
        else:
            self._keys, self._states, out = self._core.reset_where(keys, self._states, mask)
            new, old = _to_frame(self._core.fetch(out)), self._frame
            assert old is not None
            self._frame = SMAXFrame(*(np.where(_column(mask, n.ndim), n, o) for n, o in zip(new, old)))
        self._ended &= ~mask
        return self._vector_frame()

    def step(self, actions: np.ndarray) -> VectorStep:
        """Step every env with ``actions`` (K, N) ints; see the class docstring."""
        actions = np.asarray(actions)
        n = len(self.possible_agents)
        if actions.shape != (self.num_envs, n):
            raise ValueError(f"actions must have shape ({self.num_envs}, {n}), got {actions.shape}")
        if self._ended.any():
            ended = np.flatnonzero(self._ended).tolist()
            raise RuntimeError(f"envs {ended} have ended (or never started); reset them first: reset(mask=...)")
        if actions.min() < 0 or actions.max() >= self.n_actions:
            raise ValueError(f"actions must be in [0, {self.n_actions}), got values {actions.min()}..{actions.max()}")
        self._keys, self._states, out = self._core.step_batch(
            self._keys, self._states, actions.astype(np.int32), self._max_steps
        )
        result = _to_step(self._core.fetch(out))
        self._frame = result.frame
        self._ended |= result.terminated | result.truncated
        # SMAXParallelEnv's dicts as (K, N) arrays: one team reward and one pair of end flags for every ally.
        return VectorStep(
            self._vector_frame(),
            np.repeat(result.reward[:, None], n, axis=1),
            np.repeat(result.terminated[:, None], n, axis=1),
            np.repeat(result.truncated[:, None], n, axis=1),
            result.success,
        )

    def close(self) -> None:
        pass


def _column(mask: np.ndarray, ndim: int) -> np.ndarray:
    """(K,) mask shaped to broadcast against a (K, ...) array of ``ndim`` dimensions."""
    return mask.reshape(mask.shape + (1,) * (ndim - 1))


def smax(map_name: str = "3m", render_mode: str | None = None, **options: Any) -> SMAXParallelEnv:
    """Build one SMAX battle on a SMAC map name (``"3m"``, ``"5m_vs_6m"``, ...).

    Args:
        map_name: One of :data:`MAPS`.
        render_mode: None (no renderer is wrapped).
        **options: :class:`SMAXOptions` fields (``max_steps=100``, ``attack_mode="closest"``, ...).
    """
    return SMAXParallelEnv(map_name, _options(options), render_mode=render_mode)


def smax_vector(map_name: str = "3m", num_envs: int = 8, **options: Any) -> SMAXVectorEnv:
    """Build ``num_envs`` battles of one map, stepped in one vectorised call (:class:`SMAXVectorEnv`)."""
    return SMAXVectorEnv(map_name, _options(options), num_envs)


def describe(map_name: str = "3m", **options: Any) -> dict[str, Any]:
    """An id's facts without building it (no JAX): what ``qmixbench list envs`` shows; tested against the env."""
    config = _options(options)
    if map_name not in MAPS:
        raise ValueError(f"unknown SMAX map {map_name!r}; known maps: {', '.join(MAPS)}")
    allies, enemies = MAPS[map_name]
    units = allies + enemies
    return {
        "agents": [f"ally_{i}" for i in range(allies)],
        "obs_shape": ((7 + N_UNIT_TYPES) * (units - 1) + 4 + N_UNIT_TYPES,),
        "state_shape": ((6 + N_UNIT_TYPES) * units,),
        "n_actions": 5 + enemies,
        "episode_limit": int(config.max_steps),
        "team_reward": "shared",
    }


def _options(options: dict[str, Any]) -> SMAXOptions:
    valid = [f.name for f in fields(SMAXOptions)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"smax: unknown argument(s) {', '.join(unknown)}; valid: map_name, {', '.join(valid)}")
    return SMAXOptions(**options)
