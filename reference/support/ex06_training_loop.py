"""Exercise 6's answers: the reference training loop run on a spec, in the judge.

The objects are built as the worker builds them for the student's loop
(:func:`grader.worker.scenarios.common.training.build`), without the recording.
"""

from __future__ import annotations

from typing import Any

from grader.worker.scenarios.common.training import build, call_arguments, one_thread, params_of


@one_thread()
def reference_epoch(ref: Any, spec: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The reference ``train_one_epoch`` on ``spec``: its result, parameters and final lr."""
    objs = build(spec)
    objs["model"].eval()
    result = ref.train_one_epoch(
        objs["model"],
        objs["train"],
        objs["loss_fn"],
        objs["optimizer"],
        **call_arguments(kwargs, objs, "cpu"),
    )
    return {
        "result": result,
        "params": params_of(objs["model"]),
        "lr_after": objs["optimizer"].param_groups[0]["lr"],
    }


@one_thread()
def reference_fit(ref: Any, spec: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    objs = build(spec)
    history = ref.fit(
        objs["model"],
        objs["train"],
        objs["val"],
        objs["loss_fn"],
        objs["optimizer"],
        **call_arguments(kwargs, objs, "cpu"),
    )
    return {"result": history, "params": params_of(objs["model"])}


@one_thread()
def reference_evaluate(ref: Any, spec: dict[str, Any]) -> dict[str, float]:
    objs = build(spec)
    return ref.evaluate(objs["model"], objs["train"], objs["loss_fn"])
