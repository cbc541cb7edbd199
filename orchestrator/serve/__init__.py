"""``voxray serve``'s driver side: the agent file, and the gateways deployed on Ray."""
