"""Stage *measures* (loop step 6, assign): takes the quarter's prioritised pain points and people's decisions,
gives the register of corrective measures (proposals, statuses, history, XLSX/CSV exports).

Modules in reading order: ``status`` (allowed moves, co-design rule), ``register``
(writes with history, the register as a table), ``edits`` (people's edits and reviews),
``kpi`` (KPI observations, baselines), ``proposals`` (measures for pain points),
``export`` (XLSX/CSV), ``register_file`` and ``register_io`` (an edited export read
and applied back), ``step`` (what the flows call).
"""
