"""Demo data for cxloop: raw channel exports with a planted story for the loop to find.

``demo.generate.generate_demo_data`` writes them (``cxloop demo`` calls it through
``flows/demo.py``). Modules:

* ``generate`` - the entry point: files, ``manifest.json`` and ``register_seed.json``;
* ``world`` - regions, offices, their levels and export profiles, seeded random streams;
* ``survey`` - the star survey's answers and overall questions;
* ``channels`` - review book, contact-centre calls, follow-up interviews;
* ``online`` - the federal feedback platform and social networks;
* ``emerging`` - the emerging topic (fraudsters posing as staff), growing by quarter;
* ``texts`` - free texts composed from the phrase bank;
* ``phrases`` - the phrase bank (``data/phrases.yaml``) and clause picking;
* ``people`` - clearly fake personal data planted in texts;
* ``rows`` - a file's records before writing and their planted defects;
* ``writers`` - byte-stable CSV, XLSX, JSON and JSON-lines writers;
* ``scenario`` - the planted SMS measure and the seeded register;
* ``seed_measures`` - seeding the measure register in the database from ``register_seed.json``.

``data/`` holds the phrase bank and the emerging topic's wording as YAML.
"""
