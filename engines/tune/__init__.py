"""The tuning engine's pure core: scenarios, simulator, reward, agents, baselines and the safety gate."""
