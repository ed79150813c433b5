"""avalanche-neuromod: neuromodulation for continual learning, as a drop-in for Avalanche.

Implements the neuromodulatory roles reviewed by Mei et al. (2025), "Improving the adaptive and
continuous learning capabilities of artificial neural networks: Lessons from multi-neuromodulatory
dynamics", arXiv:2501.06762, as pure-torch modulators with Avalanche plugins on top.
"""

__version__ = "0.1.0"
