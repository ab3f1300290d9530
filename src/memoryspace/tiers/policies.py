"""Page-replacement policies: which hot record leaves RAM when the tier is full.

Each policy is one small class. It learns what happens through ``on_insert`` (a record entered
the tier), ``on_access`` (a resident record was read or written) and ``on_remove`` (the tier
dropped a record for its own reasons: an explicit eviction, a delete); and it answers one
question, ``victim(can_evict)``: the key to evict next. ``victim`` forgets the key it returns.
``can_evict`` is how the tier locks pages: pinned records, and the records a fault is bringing
in, answer ``False`` and are never chosen.

The six siblings:

* ``LRUPolicy``: least recently used.
* ``ClockPolicy``: second chance; a record accessed since the hand last passed is spared once.
* ``LFUPolicy``: least frequently used while resident; ties go to the least recently used.
* ``ARCPolicy``: adaptive replacement (Megiddo & Modha, 2003): recency list T1, frequency list
  T2, and ghost lists B1/B2 of recently evicted keys that steer the T1/T2 split. A one-time scan
  only churns T1, so it cannot flush the records used twice. The cache size ``c`` it adapts
  against is the number of resident records, so it works under a token budget too.
* ``HeatPolicy``: MemoryOS's segment heat, per record:
  ``heat = α·visits + β·length + γ·exp(−Δt/μ)``, defaults α = β = γ = 1, μ = 1e7 s. ``visits``
  is the record's durable ``access_count`` when it entered the tier plus every access since;
  ``Δt`` is the time since the last access. ``length`` (MemoryOS's "interaction length", the
  number of pages in a segment) is the record's size: ``min(1, tokens / length_tokens)`` with
  ``length_tokens = 256``. We chose size, not access count, because visits already counts
  accesses; capping it at 1 keeps a long record from outweighing real use. Coldest goes first.
* ``ForgettingCurvePolicy``: MemoryBank's Ebbinghaus curve: retention ``R = exp(−t/S)``, ``t``
  the time since the last recall, ``S`` the strength. Every recall multiplies the strength by
  ``growth`` (default 2, starting from ``strength`` = 1 day), so the more often a record is
  recalled, the slower it fades (the published MemoryBank code has this backwards). A record
  entering the tier is being recalled: its recall count is its durable ``access_count`` + 1.
  The least retained record goes first.

Policies are deterministic given the clock (``clock=time.time`` by default; tests inject a fake
one): ties break by the order of last access, then insertion. They are not thread-safe on their
own; ``HotTier`` calls them under its lock. Use one instance per tier.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from memoryspace.errors import InvalidInput, NotFound
from memoryspace.models import Memory

Clock = Callable[[], float]
CanEvict = Callable[[str], bool]


def _nothing_to_evict() -> NotFound:
    return NotFound("no evictable record: every resident record is pinned or being brought in")


class ReplacementPolicy(ABC):
    """Chooses the victim when the hot tier must make room.

    Subclasses override ``on_access`` (record a use) and ``victim`` (choose and forget a key);
    ``on_insert`` defaults to an access and ``on_remove`` forgets a key.
    """

    name: ClassVar[str]

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.clock = clock

    def on_insert(self, key: str, memory: Memory) -> None:
        """``key`` entered the tier (a fault, a prefetch, or a write of a cold record)."""
        self.on_access(key, memory)

    @abstractmethod
    def on_access(self, key: str, memory: Memory) -> None:
        """A resident ``key`` was read or written; ``memory`` is its current version."""

    @abstractmethod
    def on_remove(self, key: str) -> None:
        """The tier dropped ``key`` itself (explicit eviction, delete); unknown keys are ignored."""

    @abstractmethod
    def victim(self, can_evict: CanEvict) -> str:
        """The key to evict next among those ``can_evict`` accepts; the policy forgets it.

        Raises:
            NotFound: no tracked key may be evicted.
        """


def _first(keys: Iterable[str], can_evict: CanEvict) -> str | None:
    return next((key for key in keys if can_evict(key)), None)


class LRUPolicy(ReplacementPolicy):
    """Evicts the least recently used record."""

    name = "lru"

    def __init__(self, *, clock: Clock = time.time) -> None:
        super().__init__(clock=clock)
        self._order: OrderedDict[str, None] = OrderedDict()

    def on_access(self, key: str, memory: Memory) -> None:
        self._order[key] = None
        self._order.move_to_end(key)

    def on_remove(self, key: str) -> None:
        self._order.pop(key, None)

    def victim(self, can_evict: CanEvict) -> str:
        key = _first(self._order, can_evict)
        if key is None:
            raise _nothing_to_evict()
        del self._order[key]
        return key


class ClockPolicy(ReplacementPolicy):
    """Second chance: the hand sweeps the records in a circle and evicts the first one that was
    not referenced since the hand last passed, clearing reference bits as it goes.

    A new record joins just behind the hand, unreferenced: the fault that brought it in is not
    a second use.
    """

    name = "clock"

    def __init__(self, *, clock: Clock = time.time) -> None:
        super().__init__(clock=clock)
        self._ring: OrderedDict[str, bool] = OrderedDict()  # front = under the hand

    def on_insert(self, key: str, memory: Memory) -> None:
        self._ring[key] = False
        self._ring.move_to_end(key)

    def on_access(self, key: str, memory: Memory) -> None:
        if key in self._ring:
            self._ring[key] = True
        else:
            self.on_insert(key, memory)

    def on_remove(self, key: str) -> None:
        self._ring.pop(key, None)

    def victim(self, can_evict: CanEvict) -> str:
        for _ in range(2 * len(self._ring)):  # one sweep clears every bit, a second must find
            key, referenced = next(iter(self._ring.items()))
            if can_evict(key) and not referenced:
                del self._ring[key]
                return key
            if can_evict(key):
                self._ring[key] = False  # the second chance
            self._ring.move_to_end(key)
        raise _nothing_to_evict()


class LFUPolicy(ReplacementPolicy):
    """Evicts the record used least often since it entered the tier (the fault counts as one
    use); among equals, the least recently used."""

    name = "lfu"

    def __init__(self, *, clock: Clock = time.time) -> None:
        super().__init__(clock=clock)
        self._uses: dict[str, tuple[int, int]] = {}  # key -> (uses, tick of last use)
        self._tick = 0

    def on_access(self, key: str, memory: Memory) -> None:
        self._tick += 1
        uses, _ = self._uses.get(key, (0, 0))
        self._uses[key] = (uses + 1, self._tick)

    def on_remove(self, key: str) -> None:
        self._uses.pop(key, None)

    def victim(self, can_evict: CanEvict) -> str:
        candidates = [(score, key) for key, score in self._uses.items() if can_evict(key)]
        if not candidates:
            raise _nothing_to_evict()
        key = min(candidates)[1]
        del self._uses[key]
        return key


class ARCPolicy(ReplacementPolicy):
    """Adaptive Replacement Cache: balances recency (T1) and frequency (T2) using ghost lists
    of recently evicted keys (B1, B2); a ghost hit in B1 grows the target size ``p`` of T1, a
    ghost hit in B2 shrinks it."""

    name = "arc"

    def __init__(self, *, clock: Clock = time.time) -> None:
        super().__init__(clock=clock)
        self._t1: OrderedDict[str, None] = OrderedDict()
        self._t2: OrderedDict[str, None] = OrderedDict()
        self._b1: OrderedDict[str, None] = OrderedDict()
        self._b2: OrderedDict[str, None] = OrderedDict()
        self.p = 0.0  # target size of T1
        self._incoming: tuple[str, bool] | None = None  # last insert, and whether it hit B2

    def _size(self) -> int:
        return max(1, len(self._t1) + len(self._t2))

    def on_insert(self, key: str, memory: Memory) -> None:
        c = self._size()
        hit_b2 = key in self._b2
        if key in self._b1:
            self.p = min(float(c), self.p + max(len(self._b2) / len(self._b1), 1.0))
            del self._b1[key]
            self._t2[key] = None
        elif hit_b2:
            self.p = max(0.0, self.p - max(len(self._b1) / len(self._b2), 1.0))
            del self._b2[key]
            self._t2[key] = None
        elif key in self._t1 or key in self._t2:
            self.on_access(key, memory)
        else:
            self._t1[key] = None
        self._incoming = (key, hit_b2)
        self._trim_ghosts()

    def on_access(self, key: str, memory: Memory) -> None:
        self._incoming = None
        self._t1.pop(key, None)
        self._t2[key] = None
        self._t2.move_to_end(key)

    def on_remove(self, key: str) -> None:
        for ordered in (self._t1, self._t2, self._b1, self._b2):
            ordered.pop(key, None)

    def victim(self, can_evict: CanEvict) -> str:
        incoming, hit_b2 = self._incoming or ("", False)
        t1 = len(self._t1) - (incoming in self._t1)  # REPLACE runs before the newcomer joins
        from_t1 = t1 > 0 and (t1 > self.p or (hit_b2 and t1 == self.p))
        order = [(self._t1, self._b1), (self._t2, self._b2)]
        for resident, ghosts in order if from_t1 else order[::-1]:
            key = _first(resident, can_evict)
            if key is not None:
                del resident[key]
                ghosts[key] = None
                self._trim_ghosts()
                return key
        raise _nothing_to_evict()

    def _trim_ghosts(self) -> None:
        c = self._size()
        while self._b1 and len(self._t1) + len(self._b1) > c:
            self._b1.popitem(last=False)
        while self._b2 and len(self._t1) + len(self._t2) + len(self._b1) + len(self._b2) > 2 * c:
            self._b2.popitem(last=False)


class HeatPolicy(ReplacementPolicy):
    """MemoryOS heat: ``α·visits + β·min(1, tokens/length_tokens) + γ·exp(−Δt/μ)``; evicts the
    coldest record (see the module docstring for what each term means)."""

    name = "heat"

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = 1.0,
        mu: float = 1e7,
        length_tokens: int = 256,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock=clock)
        if mu <= 0 or length_tokens <= 0:
            raise InvalidInput("heat needs mu > 0 (seconds) and length_tokens > 0")
        self.alpha, self.beta, self.gamma, self.mu = alpha, beta, gamma, mu
        self.length_tokens = length_tokens
        self._state: dict[str, tuple[int, float, float, int]] = {}  # visits, length, last, tick
        self._tick = 0

    def _record(self, key: str, memory: Memory, visits: int) -> None:
        self._tick += 1
        length = min(1.0, memory.tokens / self.length_tokens)
        self._state[key] = (visits, length, self.clock(), self._tick)

    def on_insert(self, key: str, memory: Memory) -> None:
        self._record(key, memory, memory.access_count + 1)

    def on_access(self, key: str, memory: Memory) -> None:
        visits = self._state[key][0] if key in self._state else memory.access_count
        self._record(key, memory, visits + 1)

    def on_remove(self, key: str) -> None:
        self._state.pop(key, None)

    def heat(self, key: str) -> float:
        """The current heat of a tracked key.

        Raises:
            KeyError: the key is not tracked.
        """
        visits, length, last, _ = self._state[key]
        recency = math.exp(-max(0.0, self.clock() - last) / self.mu)
        return self.alpha * visits + self.beta * length + self.gamma * recency

    def victim(self, can_evict: CanEvict) -> str:
        candidates = [
            (self.heat(key), state[3], key) for key, state in self._state.items() if can_evict(key)
        ]
        if not candidates:
            raise _nothing_to_evict()
        key = min(candidates)[2]
        del self._state[key]
        return key


class ForgettingCurvePolicy(ReplacementPolicy):
    """MemoryBank's forgetting curve: retention ``exp(−t/S)``, the strength ``S`` multiplied by
    ``growth`` at each recall; evicts the record least retained now."""

    name = "forgetting"

    def __init__(
        self, *, strength: float = 86_400.0, growth: float = 2.0, clock: Clock = time.time
    ) -> None:
        super().__init__(clock=clock)
        if strength <= 0 or growth < 1:
            raise InvalidInput(
                "the forgetting curve needs strength > 0 (seconds) and growth >= 1, "
                "so that recalls never speed forgetting up"
            )
        self.strength, self.growth = strength, growth
        self._state: dict[str, tuple[int, float, int]] = {}  # recalls, last recall, tick
        self._tick = 0

    def _recall(self, key: str, recalls: int) -> None:
        self._tick += 1
        self._state[key] = (recalls, self.clock(), self._tick)

    def on_insert(self, key: str, memory: Memory) -> None:
        self._recall(key, memory.access_count + 1)

    def on_access(self, key: str, memory: Memory) -> None:
        recalls = self._state[key][0] if key in self._state else memory.access_count
        self._recall(key, recalls + 1)

    def on_remove(self, key: str) -> None:
        self._state.pop(key, None)

    def retention(self, key: str) -> float:
        """``exp(−t/S)`` of a tracked key now, in (0, 1].

        Raises:
            KeyError: the key is not tracked.
        """
        recalls, last, _ = self._state[key]
        # growth ** (recalls - 1) overflows for absurd counts; capping keeps S finite
        strength = self.strength * self.growth ** min(recalls - 1, 512)
        return math.exp(-max(0.0, self.clock() - last) / strength)

    def victim(self, can_evict: CanEvict) -> str:
        candidates = [
            (self.retention(key), state[2], key)
            for key, state in self._state.items()
            if can_evict(key)
        ]
        if not candidates:
            raise _nothing_to_evict()
        key = min(candidates)[2]
        del self._state[key]
        return key


POLICIES: dict[str, type[ReplacementPolicy]] = {
    cls.name: cls
    for cls in (LRUPolicy, ClockPolicy, LFUPolicy, ARCPolicy, HeatPolicy, ForgettingCurvePolicy)
}
POLICY_NAMES = tuple(POLICIES)


def make_policy(name: str, **options: Any) -> ReplacementPolicy:
    """A new policy by name (``lru``, ``clock``, ``lfu``, ``arc``, ``heat``, ``forgetting``),
    with its keyword options (``clock=`` for all; ``alpha``… for heat; ``strength``, ``growth``
    for the forgetting curve).

    Raises:
        InvalidInput: an unknown name or option.
    """
    cls = POLICIES.get(name)
    if cls is None:
        raise InvalidInput(
            f"unknown replacement policy {name!r}; use one of: {', '.join(POLICIES)}"
        )
    try:
        return cls(**options)
    except TypeError as exc:
        raise InvalidInput(f"bad option for the {name} policy: {exc}") from None
