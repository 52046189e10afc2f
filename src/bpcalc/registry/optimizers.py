"""The optimizers, with PyTorch's semantics: one class each, declaring its hyperparameters, its state buffers
and its update rule. `run` applies a rule to each parameter array and `step` to one flat vector holding them all;
the rule is the same code, so the numbers are the same."""

from __future__ import annotations

import numpy as np

from bpcalc.registry.kinds import Array, Optimizer, Shown


class SGD(Optimizer):
    name = "sgd"
    help = "plain gradient descent θ ← θ − α·g"
    rule, rule_t, rule_tex = "θ − α·g", "{p} − {lr} × {g}", r"\theta - \alpha g"
    torch = "torch.optim.SGD({params}, lr={lr}{wd})"
    torch_counts_steps = False
    default = True
    gradient_step = True

    @classmethod
    def rule_named(cls, theta, grad, weight_decay, lam):
        """w ← w − α·∂E/∂w: the gradient written in, (∂E/∂w + λ·w) under weight decay."""
        used, used_tex = (cls.gradient_used(*pair, weight_decay, tex=tex) for pair, tex in
                          (((theta[0], grad[0]), False), ((theta[1], grad[1]), True)))
        if not weight_decay:
            return f"{theta[0]} ← {theta[0]} − α·{used}", rf"{theta[1]} \leftarrow {theta[1]} - \alpha {used_tex}"
        return (f"{theta[0]} ← {theta[0]} − α·({used})  (λ = {lam})",
                rf"{theta[1]} \leftarrow {theta[1]} - \alpha \left({used_tex}\right),\quad \lambda = {lam}")

    def rule_step(self, p, g, s, t, lr, scratch=False):
        if scratch:  # the same numbers without a parameter-sized temporary: lr·g written over g
            np.multiply(g, lr, out=g)
            p -= g
        else:
            p -= lr * g
        return {}


class Momentum(Optimizer):
    name = "momentum"
    help = "SGD with momentum: v ← μ·v + g, θ ← θ − α·v (torch.optim.SGD with momentum)"
    hyper = {"momentum": 0.9}
    hyper_help = {"momentum": "Momentum μ (default 0.9)."}
    hyper_range = {"momentum": (0.0, None, False, "≥ 0")}
    settings = {"form": ("pytorch", "classic")}
    settings_help = {"form": "How the buffer is written: pytorch (v ← μ·v + g, θ ← θ − α·v; default) or classic "
                             "(v ← μ·v − α·g, θ ← θ + v, as lecture notes write it)."}
    aliases = ("sgd_momentum",)
    buffers = ("v",)
    shown = (Shown("v", "v"),)
    rule, rule_t = "v = μ·v + g;  θ − α·v", "{p} − {lr} × {v}"
    rule_tex = r"v \leftarrow \mu v + g,\quad \theta - \alpha v"
    torch = "torch.optim.SGD({params}, lr={lr}, momentum={momentum}{wd})"
    torch_state = {"v": "momentum_buffer"}
    torch_counts_steps = False

    def rule_step(self, p, g, s, t, lr, scratch=False):
        v = s["v"]
        v *= self.momentum
        v += g
        if scratch:
            np.multiply(v, lr, out=g)
            p -= g
        else:
            p -= lr * v
        return {}


class ClassicMomentum(Momentum):
    """Momentum as lecture notes write it: the buffer holds the step itself, v ← μ·v − α·g, θ ← θ + v. With a
    constant α it is PyTorch's momentum with v = −α·(PyTorch's buffer): the same θ step after step."""

    help = "SGD with momentum, the classic form: v ← μ·v − α·g, θ ← θ + v (as torch.optim.SGD with momentum)"
    rule, rule_t = "v = μ·v − α·g;  θ + v", "{p} + {v}"
    rule_tex = r"v \leftarrow \mu v - \alpha g,\quad \theta + v"
    torch_scale = True  # torch's momentum_buffer is −v/α
    matrix_state = True

    def rule_step(self, p, g, s, t, lr, scratch=False):
        v = s["v"]
        v *= self.momentum
        if scratch:
            np.multiply(g, lr, out=g)
            v -= g
        else:
            v -= lr * g
        p += v
        return {}


Momentum.faces = {"classic": ClassicMomentum}  # (the face is defined after the entry it belongs to)


class Nesterov(Momentum):
    name = "nesterov"
    aliases = ("nag",)
    settings, settings_help, faces = {}, {}, {}
    help = "SGD with Nesterov momentum: v ← μ·v + g, θ ← θ − α·(g + μ·v) (torch.optim.SGD, nesterov=True)"
    rule, rule_t = "v = μ·v + g;  θ − α·(g + μ·v)", "{p} − {lr} × ({g} + μ·{v})"
    rule_tex = r"v \leftarrow \mu v + g,\quad \theta - \alpha (g + \mu v)"
    torch = "torch.optim.SGD({params}, lr={lr}, momentum={momentum}, nesterov=True{wd})"

    def rule_step(self, p, g, s, t, lr, scratch=False):
        v = s["v"]
        v *= self.momentum
        v += g
        p -= lr * (g + self.momentum * v)
        return {}


class RMSprop(Optimizer):
    name = "rmsprop"
    help = "RMSprop: v ← ρ·v + (1 − ρ)·g², θ ← θ − α·g/(√v + ε) (torch.optim.RMSprop, not centred)"
    hyper = {"alpha": 0.99, "epsilon": 1e-8}
    hyper_help = {"alpha": "Smoothing constant ρ of the squared gradients (default 0.99).",
                  "epsilon": "ε added to √v (default 1e-8)."}
    hyper_range = {"alpha": (0.0, 1.0, True, "in [0, 1]"), "epsilon": (0.0, None, False, "≥ 0")}
    buffers = ("v",)
    shown = (Shown("v", "v"),)
    rule, rule_t = "v = ρ·v + (1 − ρ)·g²;  θ − α·g / (√v + ε)", "{p} − {lr} × {g} / (√{v} + ε)"
    rule_tex = r"v \leftarrow \rho v + (1-\rho) g^2,\quad \theta - \alpha \frac{g}{\sqrt{v} + \epsilon}"
    rounded = True
    torch = "torch.optim.RMSprop({params}, lr={lr}, alpha={alpha}, eps={epsilon}{wd})"
    torch_state = {"v": "square_avg"}

    def rule_step(self, p, g, s, t, lr, scratch=False):
        v = s["v"]
        v *= self.alpha
        v += (1.0 - self.alpha) * g * g
        p -= lr * g / (np.sqrt(v) + self.epsilon)
        return {}


class Adagrad(Optimizer):
    name = "adagrad"
    help = "Adagrad: G ← G + g², θ ← θ − α·g/(√G + ε) (torch.optim.Adagrad)"
    hyper = {"epsilon": 1e-10}
    hyper_help = {"epsilon": "ε added to √G (default 1e-10)."}
    hyper_range = {"epsilon": (0.0, None, False, "≥ 0")}
    buffers = ("G",)
    shown = (Shown("G", "G"),)
    rule, rule_t = "G = G + g²;  θ − α·g / (√G + ε)", "{p} − {lr} × {g} / (√{G} + ε)"
    rule_tex = r"G \leftarrow G + g^2,\quad \theta - \alpha \frac{g}{\sqrt{G} + \epsilon}"
    rounded = True
    torch = "torch.optim.Adagrad({params}, lr={lr}, eps={epsilon}{wd})"
    torch_state = {"G": "sum"}

    def rule_step(self, p, g, s, t, lr, scratch=False):
        G = s["G"]
        G += g * g
        p -= lr * g / (np.sqrt(G) + self.epsilon)
        return {}


class Adam(Optimizer):
    name = "adam"
    help = "Adam: moments m and v with bias correction, θ ← θ − α·m̂/(√v̂ + ε) (torch.optim.Adam)"
    hyper = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    hyper_help = {"beta1": "β1, decay of the first moment (default 0.9).",
                  "beta2": "β2, decay of the second moment (default 0.999).",
                  "epsilon": "ε added to √v̂ (default 1e-8)."}
    hyper_range = {"beta1": (0.0, 1.0, False, "in [0, 1)"), "beta2": (0.0, 1.0, False, "in [0, 1)"),
                   "epsilon": (0.0, None, False, "≥ 0")}
    buffers = ("m", "v")
    shown = (Shown("m", "m"), Shown("v", "v"), Shown("m_hat", "m̂"), Shown("v_hat", "v̂"))
    rule, rule_t = "θ − α·m̂ / (√v̂ + ε)", "{p} − {lr} × {m_hat} / (√{v_hat} + ε)"
    rule_tex = r"\theta - \alpha \frac{\hat m}{\sqrt{\hat v} + \epsilon}"
    rounded = True
    torch = "torch.optim.Adam({params}, lr={lr}, betas=({beta1}, {beta2}), eps={epsilon}{wd})"
    torch_state = {"m": "exp_avg", "v": "exp_avg_sq"}

    def rule_step(self, p, g, s, t, lr, scratch=False):
        m, v = s["m"], s["v"]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        m_hat = m / (1.0 - self.beta1**t)
        v_hat = v / (1.0 - self.beta2**t)
        p -= lr * m_hat / (np.sqrt(v_hat) + self.epsilon)
        return {"m_hat": m_hat, "v_hat": v_hat}


class AdamW(Adam):
    name = "adamw"
    help = "AdamW: Adam with decoupled weight decay θ ← θ(1 − α·λ) before the step (torch.optim.AdamW)"
    default_weight_decay = 0.01  # `weight_decay` is the decoupled λ here
    # with λ = 0 the update is Adam's, and is written as Adam's (the class attributes it inherits)
    rule_decay = "θ(1 − α·λ) − α·m̂ / (√v̂ + ε)"
    rule_decay_t = "{p} × (1 − {lr} × {wd}) − {lr} × {m_hat} / (√{v_hat} + ε)"
    rule_decay_tex = r"\theta(1 - \alpha\lambda) - \alpha \frac{\hat m}{\sqrt{\hat v} + \epsilon}"
    decoupled_decay = True
    torch = "torch.optim.AdamW({params}, lr={lr}, betas=({beta1}, {beta2}), eps={epsilon}, weight_decay={weight_decay})"


ENTRIES: list[type[Optimizer]] = [SGD, Momentum, Nesterov, RMSprop, Adagrad, Adam, AdamW]


class Stepper:
    """An optimizer at work: its buffers per parameter (keyed by anything hashable) and the step count t."""

    def __init__(self, opt: Optimizer, lr: float, t: int = 0, buffers: dict | None = None):
        self.opt, self.lr, self.t = opt, lr, t
        self.state: dict = {}  # key -> {buffer: array}
        for key, bufs in (buffers or {}).items():  # resuming where `bpcalc step --save` stopped
            if all(b in bufs for b in opt.buffers):
                self.state[key] = {b: np.array(bufs[b], dtype=np.float64) for b in opt.buffers}

    def tick(self) -> None:
        """Start a new step (bias corrections count steps)."""
        self.t += 1

    def buffers_for(self, key, like: Array) -> dict[str, Array]:
        s = self.state.get(key)
        if s is None:
            s = self.state[key] = {b: np.zeros_like(like, dtype=np.float64) for b in self.opt.buffers}
        return s

    def update(self, key, p: Array, g: Array) -> tuple[Array, dict[str, Array]]:
        """The new value of p (a new array) and the state the tables show (copies)."""
        new = np.array(p, dtype=np.float64)
        s = self.buffers_for(key, new)
        extra = self.opt.update(new, np.asarray(g, dtype=np.float64), s, self.t, self.lr)
        shown = {k: v.copy() for k, v in s.items()}
        shown.update(extra)
        return new, shown
