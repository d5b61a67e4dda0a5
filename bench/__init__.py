"""Benchmarks of the nina_session engine: `python -m bench [--quick] [--only a,b]`.

Every figure is a ratio against a baseline measured in the same run, on the same machine and
the same input (a floor that does only the unavoidable work, a bare socket, a bare SQLite
file, a single night); absolute times are printed beside them for information only, since
they depend on the machine. Results go to `bench/results.json`.

One module per benchmark, each with `run(scale) -> Section`:

- `pipeline`: frames/s through `Pipeline.ingest_frames`, vs `json.loads` + one `executemany`
- `backfill`: history over real HTTP from the simulator, vs just downloading and parsing it
- `latency`: simulator send → engine subscriber callback, vs the raw socket round trip
- `history`: a year of nights vs one night: size on disk and the views' queries
- `memory`: resident growth per million frames; the pipeline's own state stays bounded
- `startup`: `NinaEngine.start()` with NINA down, up or hung, vs opening a bare SQLite file

`python -m bench.profile` profiles the pipeline's hot path with cProfile.
"""
