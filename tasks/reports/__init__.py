"""Stage *reports* (loop step 8, report): the quarterly PDF, one per region plus a national one.

Takes the quarter's results from the database (star index, intake, metrics, pain points,
measure register, effects); gives per scope a PDF/A-3u with its CSV attachments, key
messages and content hash, and the e-mail that carries it. Modules in reading order:
``strings`` (words, number formats), ``context`` (the report context, key messages) with
``context_findings`` and ``context_measures`` (its sections, read from the database),
``scope_survey`` (a scope's survey metrics and key drivers, from the database or from the
quarter's answers a cycle holds), ``charts``, ``layout`` (body vs appendices),
``attachments`` (the CSV files), ``render`` (Jinja2 + WeasyPrint, ``write_reports``),
``message`` (the e-mail).
"""
