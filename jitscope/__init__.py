"""jitscope: which Python numerical backend is fastest for this workload, on this machine,
and is its answer still right?"""

__version__ = "0.1.0"
