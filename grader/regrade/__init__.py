"""``grade class``: the instructor's regrade of a whole class, the grade of record.

Judge-side only: student files are read as data (hashed, tokenised, shipped to a grading
process) and run nowhere but in the sandboxed worker that ``grade all`` uses. One module per
step of the pipeline:

- ``roster``     -- who is in the class (a folder of repositories or a CSV);
- ``sources``    -- each student's files at the graded commit, read without touching the repo;
- ``locate``     -- where the exercises are inside a repository (root or ``exercises/``);
- ``integrity``  -- protected files against the release manifest, and scorecard findings;
- ``cache``      -- finished cards keyed by content, grader, seed and options;
- ``task``       -- what one grading process does for one student (the ``grade all`` path);
- ``engine``     -- where tasks run: a local process pool or a Dask cluster;
- ``similarity`` -- winnowing over normalised tokens, for copied answers;
- ``records``    -- the class's results model, ``summary.json``;
- ``gradebook``, ``report``, ``charts`` -- what the instructor reads and imports;
- ``signing``    -- Ed25519 signatures over each student's scorecard;
- ``classrun``   -- the pipeline; ``commands`` -- the click commands.
"""
