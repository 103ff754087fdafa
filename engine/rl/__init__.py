"""Reinforcement learning on the one core: the gymnasium env, its batched twin, PPO training and evaluation."""
