"""lbm-model: re-estimation workbench for the Leefbaarometer."""
__version__ = "0.1.0"
