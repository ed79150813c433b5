"""Strategy presets as data (YAML). Installed as ``avalanche_neuromod.presets``."""
