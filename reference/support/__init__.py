"""The judge's answer-computing helpers, kept with the references because they *are* answers.

One module per exercise that needs one (plus ``finite_differences``): the reference loops,
optimizer runs and simulations of classic mistakes that the suites compare student results
with. Suites never import them: they call them through :func:`grader.judge.expectations.answers`
(``answers("support.ex05_optimizers").simulate``), which runs them in the instructor's
checkout and replays their recorded results in a student release, where this folder does not
exist. Like ``reference/``, it is masked from student code in the sandbox.
"""
