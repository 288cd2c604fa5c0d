"""Exercise 6's helpers (the training loop), one idea per module.

- :mod:`.specs`: the runs the tests are made of, as plain data (random specs, course figure 6);
- :mod:`.events`: reading the worker's record of a run, and what each classic mistake looks
  like in it (the hints);
- :mod:`.results`: the reference loop's results and the comparisons with a student's, each
  mismatch explained by the first problem the record shows.

The objects a spec becomes are built in :mod:`grader.worker.scenarios.common.training`, the
same way in the worker and in the judge.
"""
