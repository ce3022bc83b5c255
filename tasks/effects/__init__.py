"""Stage *effects* (loop step 7, measure the effect): takes the implemented measures of the register and their KPI
observations, gives an effect estimate and verdict per measure and quarter.

Modules in reading order: ``results`` (methods, ``EffectResult``, the verdict rule),
``panel`` (periods and units made ready), ``twfe`` (the two-way fixed-effects core),
``placebo`` (placebo refits and their inference), ``synthetic`` (synthetic control),
``few_treated`` (a pilot in one or a few offices), ``fits`` (difference-in-differences,
staggered, interrupted time series, before/after, and the choice among them),
``estimators`` (the API and the documentation of the methods), ``evaluate`` (the
quarter's measures evaluated and stored), ``step`` (what the flows call); and
``power`` (before a pilot: what it could detect).
"""
