"""Stage *insight* (loop steps 3-5, measure, detect, prioritise): takes a
quarter's survey answers, rated feedback and themed texts (with earlier quarters and the
open measures) and gives the star index, the satisfaction metrics, the key drivers and
the ranked pain points. Modules, in reading order: ``step`` (the stage's steps), ``index``
(the star), ``metrics`` (ACSI, NPS, CES, CSAT), ``drivers`` (key-driver analysis),
``mentions`` (texts counted per theme and unit), ``pchart`` (Laney p' signals),
``painpoints`` (detection and priority), ``explain`` (why-sentences and report tables).
"""
