"""The loop's stages, one package each, in loop order. Each is plain, typed functions
(DataFrame in, DataFrame out, callable without Prefect) plus a ``step`` module whose
functions own the database session and are what the flows wrap.

The eight steps of the loop (``domain.md``: collect, validate, measure, detect,
prioritise, assign, measure the effect, report) map onto the stages as: collect = 1,
validate = 2, insight = 3-5 (with text serving 4), measures = 6, effects = 7,
reports and delivery = 8. Docstrings say "loop step N" in that numbering.

=================  ==========================================================================
``collect``        files in the drop folder -> one typed staging frame per file; the office registry
``validate``       staging frame -> accepted rows (GE suites), quarantine with reasons, duplicates,
                   redacted text; the per-file ingest step and GE Data Docs
``text``           feedback text -> language, themes, sentiment; emerging topics; learning from ratings
``insight``        survey answers and tagged texts -> star index, metrics, key drivers, ranked pain points
``measures``       pain points -> proposed measures; the register, its edits, KPIs, export and import
``effects``        the register and the KPI panel -> each measure's effect with its interval
``reports``        the quarter's results -> one PDF per region and a national one
``delivery``       PDFs -> e-mails to each scope's recipients, the archive and the delivery log
=================  ==========================================================================
"""

STAGES = ("collect", "validate", "text", "insight", "measures", "effects", "reports", "delivery")
