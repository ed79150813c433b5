"""Suites and selection grids as YAML (``*.yaml``, ``grids/*.yaml``), installed as
``avalanche_neuromod.suites``; the scripts beside them are run from a checkout."""
