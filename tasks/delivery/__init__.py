"""Stage *delivery* (loop step 8, report): e-mail the quarter's report PDFs to management.

Takes the reports stage's PDFs (one per scope), ``config/recipients.yaml`` and the SMTP
settings; gives one message per recipient (over SMTP, or ``.eml`` files in the outbox),
a row per attempt in the delivery log (table ``delivery``) and a summary of what failed.
Modules, in reading order: messages (who gets what, the MIME message), smtp (the server,
TLS, one send), archive (the outbox, the PDFs and their key messages), log (the delivery
log), send (the run: retries, skips, re-sends), step (what the quarterly flow calls).
"""
