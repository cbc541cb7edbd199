"""Example tools and agents used by the README, the configs and the smoke suite."""
