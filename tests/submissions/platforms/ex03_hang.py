"""Exercise 3, hanging: clip_grad_norm never returns (the grader's per-call timeout must fire)."""


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    while True:
        pass


def clip_grad_value(parameters, clip_value):
    while True:
        pass
