"""Budget-aware decays from recent papers: REX, UBA, WSD, the Power scheduler, and the infinite schedule."""

from __future__ import annotations

import math

from .._math import SCALAR
from ..errors import SpecError
from . import validate as v
from .base import Finding, Fn, Phase, family
from .conventions import get_convention
from .decaying import Decaying, progress, run_steps_before

DECAY_FORMS = ("linear", "cosine", "1-sqrt", "square", "exp")


def cooldown_shape(form: str, floor: float, half_life: float | None = None):
    """``f(x, m)`` for ``x`` in [0, 1] of a cooldown from 1 to ``floor``.

    Forms of Hägele et al. 2024 (``linear``, ``cosine``, ``1-sqrt``, ``square``: ``1 - x^2``,
    ``exp``: ``floor^x``) and MiniCPM's exponential with a half-life in steps (Hu et al. 2024).
    """
    if form == "exp":
        if half_life is not None:
            return None  # handled by the caller (depends on steps, not on x)
        if floor <= 0.0:
            raise SpecError("form='exp' decays geometrically to the floor and needs floor > 0 "
                            "(or half_life= for MiniCPM's 0.5^(u/half_life)); got floor=0")
        return lambda x, m: floor ** x
    shapes = {
        "linear": lambda x, m: 1.0 - x,
        "cosine": lambda x, m: 0.5 * (1.0 + m.cos(m.pi * x)),
        "1-sqrt": lambda x, m: 1.0 - m.sqrt(x),
        "square": lambda x, m: 1.0 - x * x,
    }
    shape = shapes[form]
    return lambda x, m: floor + (1.0 - floor) * shape(x, m)


@family("rex")
class Rex(Decaying):
    """REX (Chen et al. 2022): ``floor + (1 - floor) * (1 - p) / (1 - beta * p)``.

    ``beta = 0.5`` is the paper's profile ``(1-p)/(1/2 + (1-p)/2)``; ``beta = 0.9`` the authors'
    reference code; ``beta = 0`` is linear decay.
    """

    floor: float = 0.0
    beta: float = 0.5

    def _check(self) -> None:
        self._set("floor", v.number("rex", "floor", self.floor, lo=0.0))
        self._set("beta", v.number("rex", "beta", self.beta, lo=0.0, hi=1.0, hi_open=True))

    def _core(self, D, W, total, conv) -> Fn:
        floor, beta, D = self.floor, self.beta, float(D)

        def fn(u, m):
            p = progress(u, D, m, conv)
            return floor + (1.0 - floor) * (1.0 - p) / (1.0 - beta * p)

        return fn


@family("uba")
class Uba(Decaying):
    """UBA, the unified budget-aware schedule (Tang et al., NeurIPS 2025), one parameter ``phi``.

    ``floor + (1 - floor) * 2c / (2 phi + (2 - phi) c)`` with ``c = 1 + cos(pi p)``; ``phi = 2`` is
    exactly cosine, a smaller ``phi`` holds the LR high for longer.
    """

    phi: float = 1.0
    floor: float = 0.0

    def _check(self) -> None:
        self._set("phi", v.number("uba", "phi", self.phi, lo=0.0, lo_open=True))
        self._set("floor", v.number("uba", "floor", self.floor, lo=0.0))

    def _core(self, D, W, total, conv) -> Fn:
        phi, floor, D = self.phi, self.floor, float(D)

        def fn(u, m):
            c = 1.0 + m.cos(m.pi * progress(u, D, m, conv))
            return floor + (1.0 - floor) * 2.0 * c / (2.0 * phi + (2.0 - phi) * c)

        return fn


@family("wsd")
class Wsd(Decaying):
    """Warmup-stable-decay (MiniCPM, Hu et al. 2024; Hägele et al. 2024): hold the peak, then cool down
    over the last ``decay`` of the run (steps or a fraction of the total) with the given ``form``."""

    decay: int | float = 0.2
    form: str = "1-sqrt"
    floor: float = 0.0
    half_life: int | None = None

    def _check(self) -> None:
        self._set("decay", v.duration("wsd", "decay", self.decay))
        v.choice("wsd", "form", self.form, DECAY_FORMS)
        self._set("floor", v.number("wsd", "floor", self.floor, lo=0.0))
        if self.half_life is not None:
            if self.form != "exp":
                raise SpecError(f"wsd: half_life={v.shown(self.half_life)} only applies to form='exp'; "
                                f"got form={self.form!r}")
            self._set("half_life", v.steps("wsd", "half_life", self.half_life, lo=1))
        try:
            cooldown_shape(self.form, self.floor, self.half_life)
        except SpecError as e:
            raise SpecError(f"wsd: {e}") from None

    def decay_start(self, total: int | None, W: int) -> int:
        T = self._require_total(total)
        return max(W, T - v.resolve("wsd", "decay", self.decay, T))

    def _core(self, D, W, total, conv) -> Fn:
        T = self._require_total(total)
        Dd = v.resolve("wsd", "decay", self.decay, T)
        hf = conv.quirks == "hf" and (W < T or conv.placement == "before")
        if hf:  # transformers: the decay is the run's last Dd steps, wherever a warmup shorter than the run ends
            start = float(T - Dd) - (0.0 if conv.placement == "before" else run_steps_before(W, conv))
            length = max(float(Dd), 1.0)
        elif conv.placement == "before":  # the warmup comes before the T steps: decay over their last steps
            start = float(max(0, T - Dd))
            length = max(float(D) - start, 1.0)
        else:  # in u: steps since the warmup (inside) or since step 0 (replace)
            start = float(self.decay_start(total, W)) - run_steps_before(W, conv)
            length = max(float(D) - start, 1.0)
        floor = self.floor
        if hf and Dd == 0:  # get_wsd_schedule: min_lr_ratio from step W + S + D on
            return lambda u, m: m.where(u < start, 1.0, floor + 0.0 * u)
        if self.half_life is not None:
            hl = float(self.half_life)

            def fn(u, m):
                x = m.clip(u - start, 0.0, length)
                return m.where(u < start, 1.0, m.maximum(m.power(0.5, x / hl), floor))

            return fn
        shape = cooldown_shape(self.form, floor)

        def fn(u, m):
            x = m.clip((u - start) / length, 0.0, 1.0)
            return m.where(u < start, 1.0, shape(x, m))

        return fn

    def ramp_start(self, convention=None) -> float:
        """transformers' ``get_wsd_schedule`` ramps up from ``min_lr_ratio``: under its quirks (``hf``) the
        warmup starts at ``floor`` unless ``warmup_init`` is set."""
        if get_convention(convention).quirks == "hf" and self.warmup_init == 0.0:
            return self.floor
        return super().ramp_start(convention)

    def _decay_phases(self, start, end, total):
        if end is None:
            return [Phase(start, None, "stable")]
        d = max(start, end - v.resolve("wsd", "decay", self.decay, self._own_total(total)))
        return [Phase(start, d, "stable"), Phase(d, end, f"decay ({self.form})")]

    def _lint(self, total, conv):
        out = super()._lint(total, conv)
        T = self._own_total(total)
        W, Dd = self.warmup_steps(total), v.resolve("wsd", "decay", self.decay, T)
        if W + Dd > T:
            out.append(Finding("phases-exceed-run", f"wsd: warmup ({W}) + decay ({Dd}) = {W + Dd} steps exceed the "
                                                    f"run ({T} steps); the decay is cut short"))
        return out


@family("power")
class Power(Decaying):
    """The Power scheduler (Shen et al. 2024): ``lr = min(lr_max, batch_size * a * n^b)``, ``n`` tokens seen.

    ``lr_max`` is the base LR the multiplier is relative to (pass it as ``--lr``); defaults are the
    paper's ``a = 4``, ``b = -0.51``, ``lr_max = 0.02``. Warmup ramps linearly to the power-law value
    at its end; an optional final ``decay`` (steps or fraction) cools down with a WSD ``form``.
    """

    batch_size: float = 1024.0
    tokens_per_step: float = 4_194_304.0
    a: float = 4.0
    b: float = -0.51
    lr_max: float = 0.02
    decay: int | float = 0
    form: str = "exp"
    floor: float = 0.0
    decays_over_total = False

    def _check(self) -> None:
        for name in ("batch_size", "tokens_per_step", "a", "lr_max"):
            self._set(name, v.number("power", name, getattr(self, name), lo=0.0, lo_open=True))
        self._set("b", v.number("power", "b", self.b, hi=0.0, hi_open=True))
        self._set("decay", v.duration("power", "decay", self.decay))
        v.choice("power", "form", self.form, DECAY_FORMS)
        self._set("floor", v.number("power", "floor", self.floor, lo=0.0))
        if self.decay and self.form == "exp" and self.floor == 0.0:
            raise SpecError("power: form='exp' decays geometrically to the floor and needs floor > 0 "
                            "(e.g. floor=0.1); or choose form='linear'")

    def needs_total(self) -> bool:
        return super().needs_total() or (self.steps is None and self.decay != 0)

    def law(self, t, m):
        """The multiplier ``min(1, batch_size * a * (t * tokens_per_step)^b / lr_max)`` at absolute step ``t``."""
        scale = self.batch_size * self.a / self.lr_max
        n = m.maximum(t * self.tokens_per_step, 1e-300)
        if m.scalar:  # Python's float ** float raises OverflowError where numpy gives inf (capped to 1 here)
            try:
                return min(scale * n ** self.b, 1.0)
            except OverflowError:
                return 1.0
        return m.minimum(scale * n ** self.b, 1.0)

    def _core(self, D, W, total, conv) -> Fn:
        Wf = float(W)
        law = self.law
        if not self.decay:
            return lambda u, m: law(u + Wf, m)
        T = self._require_total(total)
        start = float(max(W, T - v.resolve("power", "decay", self.decay, T)))
        length = max(float(T) - start, 1.0)
        shape = cooldown_shape(self.form, self.floor)
        at_start = law(start, SCALAR)

        def fn(u, m):
            t = u + Wf
            x = m.clip((t - start) / length, 0.0, 1.0)
            return m.where(t < start, law(t, m), at_start * shape(x, m))

        return fn

    def _decay_phases(self, start, end, total):
        if not self.decay or end is None:
            return [Phase(start, end, "power law")]
        d = max(start, end - v.resolve("power", "decay", self.decay, end))
        return [Phase(start, d, "power law"), Phase(d, end, f"decay ({self.form})")]


@family("infinite")
class Infinite(Decaying):
    """The infinite schedule (Ibrahim et al. 2024; Singh, Janson et al. 2025).

    Warmup, a ``cooldown`` to ``constant_lr`` (``cosine``, or ``inverse_sqrt`` with ``timescale``), a
    constant phase for as long as data keeps coming, then on demand an exponential ``anneal`` over the
    last steps of the run down to ``min_lr``. With ``anneal=0`` the schedule needs no total.
    Multipliers are relative to the peak (the base LR).
    """

    cooldown: int | float = 0.1
    constant_lr: float = 0.1
    anneal: int | float = 0
    min_lr: float = 0.01
    cooldown_form: str = "cosine"
    timescale: float = 10.0
    decays_over_total = False

    def _check(self) -> None:
        self._set("cooldown", v.duration("infinite", "cooldown", self.cooldown))
        self._set("constant_lr", v.number("infinite", "constant_lr", self.constant_lr, lo=0.0, lo_open=True))
        self._set("anneal", v.duration("infinite", "anneal", self.anneal))
        self._set("min_lr", v.number("infinite", "min_lr", self.min_lr, lo=0.0, lo_open=True))
        v.choice("infinite", "cooldown_form", self.cooldown_form, ("cosine", "inverse_sqrt"))
        self._set("timescale", v.number("infinite", "timescale", self.timescale, lo=0.0, lo_open=True))

    def needs_total(self) -> bool:
        return self.steps is None and any(isinstance(x, float) and x > 0 for x in (self.warmup, self.cooldown, self.anneal)) \
            or (self.steps is None and self.anneal != 0)

    def bounds(self, total: int | None) -> tuple[int, int, int | None]:
        """Absolute steps where the cooldown starts, the constant phase starts and the anneal starts."""
        T = self._own_total(total)
        W = self.warmup_steps(total)
        c_end = W + v.resolve("infinite", "cooldown", self.cooldown, T)
        a_start = None
        if self.anneal:
            a_start = max(c_end, self._require_total(total) - v.resolve("infinite", "anneal", self.anneal, T))
        return W, c_end, a_start

    def _core(self, D, W, total, conv) -> Fn:
        _, c_end, a_start = self.bounds(total)
        Wf, C = float(W), float(c_end - W)
        const, lo, alpha = self.constant_lr, self.min_lr, self.timescale
        if self.cooldown_form == "cosine":
            def cool(x, m):
                return const + (1.0 - const) * 0.5 * (1.0 + m.cos(m.pi * x))
        else:
            s1 = math.sqrt(1.0 + alpha)

            def cool(x, m):
                # (1/sqrt(1 + alpha x) - 1) / (1/sqrt(1 + alpha) - 1), written without the cancellation that
                # made it 0/0 for a tiny timescale: 1/s - 1 = -alpha x / (s (1 + s)) with s = sqrt(1 + alpha x)
                sx = m.sqrt(1.0 + alpha * x)
                return 1.0 + (const - 1.0) * x * (s1 / sx) * ((1.0 + s1) / (1.0 + sx))
        if a_start is None:
            a0, A = math.inf, 1.0
        else:
            a0, A = float(a_start), float(max(self._require_total(total) - a_start, 1))
        rate = math.log(const / lo)

        def fn(u, m):
            t = u + Wf
            x = m.clip(u / C, 0.0, 1.0) if C > 0 else 1.0
            y = m.clip((t - a0) / A, 0.0, 1.0) if a0 != math.inf else 0.0
            return m.where(t < Wf + C, cool(x, m), m.where(t < a0, const, const * m.exp(-rate * y)))

        return fn

    def _phases(self, total, conv):
        W, c_end, a_start = self.bounds(total)
        T = self._own_total(total)
        out = [Phase(0, W, "warmup")] if W else []
        out.append(Phase(W, c_end, f"cooldown ({self.cooldown_form})"))
        end = None if T is None else max(T, c_end)  # a cooldown longer than the run leaves empty phases after it
        out.append(Phase(c_end, a_start if a_start is not None else end, "constant"))
        if a_start is not None:
            out.append(Phase(a_start, max(end, a_start), "anneal (exp)"))
        return out
