"""Stage *collect* (loop step 1, collect): find the quarter's files and read every channel's exports.

Takes the files of a drop folder (``<data_dir>/<quarter>/``, named after their channel) in
whatever encoding, delimiter and header language the exporting system chose; gives one
:class:`readers.RawFile` per file and the typed staging frame that validation checks, and
keeps the office registry in the database up to the configuration.
Modules, in reading order: discovery, decoding, headers, readers (with fast_csv, its CSV
fast path, and xlsx_fast, its calamine path for workbooks), staging, offices, step.
"""
