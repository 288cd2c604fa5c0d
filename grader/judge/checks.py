"""Comparisons whose failures teach: expected, got, where, and the likely cause.

Suites call these on data that came back from the worker (always plain tensors and Python
values, rebuilt by the protocol). Each raises :class:`~grader.judge.failures.Failure` with a
message that says what was expected, what came back and where (the worst element and its
index), and -- only when the numbers fit a classic mistake -- a hint.

Diagnoses tried in order: a wrong type, dtype, device or shape (including a transposed
result); NaN/inf where the answer is finite; every value off by one exact factor k (a sign flip
when k = -1); a result equal to the transpose; then any suite-specific ``hints``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from grader.judge.failures import Failure

Hint = Callable[[torch.Tensor, torch.Tensor], "str | None"]

TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-10, 1e-12),
    torch.float32: (1e-4, 1e-6),
    torch.float16: (1e-2, 1e-3),
    torch.bfloat16: (2e-2, 1e-2),
}


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing a result of ``dtype`` with the reference."""
    return TOLERANCES.get(dtype, (0.0, 0.0))


def fmt(x: Any) -> str:
    """A short, readable rendering of a number, tensor or value for messages."""
    if isinstance(x, torch.Tensor):
        if x.numel() == 1:
            return fmt(x.item()) if x.ndim == 0 else f"tensor([{fmt(x.item())}])"
        if x.numel() <= 8:
            vals = ", ".join(fmt(v) for v in x.flatten().tolist())
            return f"tensor([{vals}])" if x.ndim == 1 else f"tensor of shape {tuple(x.shape)}"
        return f"tensor of shape {tuple(x.shape)}"
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return str(x)
        return f"{x:.6g}" if abs(x) >= 1e-4 or x == 0 else f"{x:.4e}"
    if isinstance(x, bool | int):
        return str(x)
    return repr(x) if len(repr(x)) < 80 else f"a {type(x).__name__}"


def index_str(flat_index: int, shape: Sequence[int]) -> str:
    if not shape:
        return ""
    idx = []
    for dim in reversed(shape):
        idx.append(flat_index % dim)
        flat_index //= dim
    return "[" + ", ".join(str(i) for i in reversed(idx)) + "]"


def expect_tensor(got: Any, what: str, *, ndim: int | None = None) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        kind = "None" if got is None else f"a {type(got).__name__} ({fmt(got)})"
        shape = " 0-d" if ndim == 0 else ""
        raise Failure(f"{what}: expected a{shape} torch.Tensor, got {kind}")
    if ndim is not None and got.ndim != ndim:
        raise Failure(
            f"{what}: expected a {ndim}-d tensor, got shape {tuple(got.shape)}",
            "return a 0-d tensor (e.g. torch.tensor(x) or t.sum()), not a 1-element vector"
            if ndim == 0 and got.numel() == 1
            else "",
        )
    return got


def exact_factor(got: torch.Tensor, expected: torch.Tensor, rtol: float = 1e-6) -> float | None:
    """k if ``got == k * expected`` everywhere (k != 1), else None."""
    g, e = got.double().flatten(), expected.double().flatten()
    if not (torch.isfinite(g).all() and torch.isfinite(e).all()):
        return None
    scale = e.abs().max().item()
    if scale == 0:
        return None
    big = e.abs() > scale * 1e-3
    if not big.any():
        return None
    ratios = g[big] / e[big]
    k = ratios.median().item()
    if k == 0 or abs(k - 1) < 1e-6:
        return None
    if torch.allclose(g, k * e, rtol=rtol, atol=scale * abs(k) * 1e-9):
        return k
    return None


def describe_factor(k: float) -> str:
    """Words for an exact factor that fits a classic mistake (an integer, 1/integer, -1, 1/2);
    "" for any other factor, which is more likely a coincidence of a different bug."""
    if abs(k + 1) < 1e-6:
        return "every value has the opposite sign: is a minus sign missing or extra?"
    for n in range(2, 1025):
        if abs(k - n) < 1e-6 * n:
            return f"every value is exactly {n}x too large"
        if abs(k - 1 / n) < 1e-6 / n:
            return f"every value is exactly {n}x too small"
        if abs(k + n) < 1e-6 * n:
            return f"every value is exactly -{n}x the expected one (sign flipped and scaled)"
    return ""


def fmt_pair(expected: float, got: float) -> tuple[str, str]:
    """Both numbers with just enough digits to tell them apart."""
    e, g = fmt(expected), fmt(got)
    digits = 7
    while e == g and expected != got and digits <= 17:
        e, g = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        digits += 1
    return e, g


def close(
    got: object,
    expected: torch.Tensor | float,
    what: str,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    check_dtype: bool = True,
    factor_hints: dict[float, str] | None = None,
    hints: Iterable[Hint] = (),
) -> torch.Tensor:
    """Assert that ``got`` matches ``expected`` elementwise; returns ``got`` as a tensor.

    ``factor_hints`` maps an exact factor (e.g. the batch size N) to the question a student
    should ask ("did you average over the batch?"); ``hints`` are suite-specific diagnoses.
    """
    exp = torch.as_tensor(expected)
    got = expect_tensor(got, what)
    if got.device.type != exp.device.type:
        raise Failure(
            f"{what}: expected a tensor on {exp.device}, got one on {got.device}",
            "create new tensors on the device of the inputs (device=x.device)",
        )
    if check_dtype and got.dtype != exp.dtype:
        raise Failure(
            f"{what}: expected dtype {exp.dtype}, got {got.dtype}",
            "keep the dtype of the inputs (avoid torch.tensor(...) without dtype=, .float())",
        )
    if got.shape != exp.shape:
        hint = ""
        if got.ndim == 2 and got.shape == exp.shape[::-1]:
            hint = "the result is transposed: check the order of the matrix product"
        elif got.numel() == exp.numel():
            hint = "same number of elements, different shape: a reshape or a missing squeeze?"
        raise Failure(f"{what}: expected shape {tuple(exp.shape)}, got {tuple(got.shape)}", hint)
    d_rtol, d_atol = tolerance(exp.dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    g, e = got.detach().to("cpu", torch.float64), exp.detach().to("cpu", torch.float64)
    finite_exp = torch.isfinite(e)
    bad_nonfinite = finite_exp & ~torch.isfinite(g)
    if bad_nonfinite.any():
        i = int(bad_nonfinite.flatten().nonzero()[0])
        raise Failure(
            f"{what}: expected finite values, got {fmt(g.flatten()[i].item())} at index "
            f"{index_str(i, g.shape)} ({int(bad_nonfinite.sum())} non-finite of {g.numel()})",
            _first_hint(hints, got, exp)
            or "a value became inf or NaN: an overflow (exp of a large number?) or a division "
            "by zero",
        )
    same_nonfinite = (~finite_exp) & ((g == e) | (torch.isnan(g) & torch.isnan(e)))
    diff = torch.where(same_nonfinite, torch.zeros_like(g), (g - e).abs())
    diff = torch.nan_to_num(diff, nan=math.inf)
    allowed = atol + rtol * e.abs().nan_to_num(posinf=0.0)
    excess = diff - allowed
    if not (excess > 0).any():
        return got
    i = int(excess.flatten().argmax())
    n_bad = int((excess > 0).sum())
    where = f" at index {index_str(i, g.shape)}" if g.ndim else ""
    shown_e, shown_g = fmt_pair(e.flatten()[i].item(), g.flatten()[i].item())
    message = (
        f"{what}: expected {shown_e}{where}, got {shown_g}"
        f" (difference {diff.flatten()[i].item():.3g}, tolerance {allowed.flatten()[i].item():.3g};"
        f" {n_bad} of {g.numel()} values differ)"
    )
    raise Failure(message, diagnose(g, e, factor_hints=factor_hints, hints=hints, raw=(got, exp)))


def _first_hint(hints: Iterable[Hint], got: torch.Tensor, exp: torch.Tensor) -> str:
    for h in hints:
        text = h(got, exp)
        if text:
            return text
    return ""


def diagnose(
    g: torch.Tensor,
    e: torch.Tensor,
    *,
    factor_hints: dict[float, str] | None = None,
    hints: Iterable[Hint] = (),
    raw: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> str:
    """The likely cause of a mismatch, or "" when no known pattern fits the numbers."""
    custom = _first_hint(hints, *(raw or (g, e)))
    if custom:
        return custom
    k = exact_factor(g, e)
    if k is not None:
        for key, text in (factor_hints or {}).items():
            if abs(k - key) <= 1e-6 * abs(key):
                return f"{describe_factor(k) or f'every value is {k:g}x the expected one'}: {text}"
        return describe_factor(k)
    if g.ndim == 2 and g.shape[0] == g.shape[1] and g.shape[0] > 1:
        if torch.allclose(g, e.T, rtol=1e-8, atol=1e-12):
            return "the result equals the transpose of the expected one"
    return ""


def equal(got: Any, expected: Any, what: str, hint: str = "") -> None:
    """Exact equality of plain values (ints, strings, lists, ...)."""
    if got != expected or type(got) is not type(expected) and not _numeric_pair(got, expected):
        raise Failure(f"{what}: expected {fmt(expected)}, got {fmt(got)}", hint)


def _numeric_pair(a: Any, b: Any) -> bool:
    return isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool)


def scalar_close(
    got: Any,
    expected: float,
    what: str,
    *,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    hint: str = "",
) -> float:
    """A Python float (or 0-d tensor) close to ``expected``."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, int | float):
        raise Failure(f"{what}: expected a number, got {fmt(got)}")
    if not math.isclose(float(got), expected, rel_tol=rtol, abs_tol=atol):
        if not (math.isnan(expected) and math.isnan(float(got))):
            raise Failure(f"{what}: expected {fmt(expected)}, got {fmt(float(got))}", hint)
    return float(got)


def unchanged(before: torch.Tensor, after: torch.Tensor, what: str, hint: str = "") -> None:
    """``after`` is bit-identical to ``before`` (inputs that must not be modified)."""
    if before.shape != after.shape or not torch.equal(before, after):
        raise Failure(f"{what} was modified, but must be left unchanged", hint)
